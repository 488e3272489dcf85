import express from 'express';
import pino from 'pino';
import supertest from 'supertest';
import { errorHandler } from '../../src/infra/http/errorHandler';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/**
 * Values that pass validation but that PostgreSQL cannot take must answer 400, and the log must
 * carry the SQLSTATE only: no SQL text, no bound values. Real queries against the test database,
 * through the app's own error handler.
 */
let db: TestDatabase;
const logLines: string[] = [];
let app: express.Express;

beforeAll(async () => {
  db = await createTestDatabase();
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  app = express();
  app.get('/cast/:type', async (req, res) => {
    const types: Record<string, string> = { timestamptz: 'timestamptz', int: 'int', uuid: 'uuid', text: 'text', numeric: 'numeric(4,2)' };
    const rows = await db.knex.raw(`select ?::${types[req.params.type] ?? 'text'} as value`, [typeof req.query.value === 'string' ? req.query.value : '']);
    res.json(rows.rows);
  });
  app.get('/broken', async (_req, res) => {
    res.json(await db.knex.raw('select secret_column from no_such_table where owner = ?', ['owner-secret-value']));
  });
  app.use(errorHandler(logger));
});

afterAll(async () => {
  await db?.drop();
});

describe('database errors caused by request values', () => {
  it.each([
    ['a date PostgreSQL cannot hold (22008)', 'timestamptz', '0000-01-01T00:00:00Z', '22008'],
    ['an integer out of range (22003)', 'int', '99999999999', '22003'],
    ['a numeric overflow (22003)', 'numeric', '123456.7', '22003'],
    ['an invalid UUID text (22P02)', 'uuid', 'not-a-uuid-value', '22P02'],
    ['a NUL byte in text (22021)', 'text', 'before\u0000after', '22021'],
  ])('when a query fails on %s, then 400 INVALID_VALUE and the log holds only the code', async (_label, type, value, sqlState) => {
    const mark = logLines.length;
    const res = await supertest(app).get(`/cast/${type}`).query({ value });

    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 'error', error: { code: 'INVALID_VALUE', message: 'A value in the request is out of range or not in a valid form' } });
    const logs = logLines.slice(mark).join('\n');
    expect(logs).toContain(`"code":"${sqlState}"`);
    expect(logs).not.toMatch(/select|::/i);
    expect(logs).not.toContain(value.replace('\u0000', ''));
  });

  it("when a query fails for a reason that is not the request's, then 500 and still no SQL or values in the log", async () => {
    const mark = logLines.length;
    const res = await supertest(app).get('/broken');

    expect(res.status).toBe(500);
    expect(res.body).toEqual({ status: 'error', error: { code: 'INTERNAL', message: 'Internal server error' } });
    const logs = logLines.slice(mark).join('\n');
    expect(logs).toContain('"code":"42P01"');
    expect(logs).not.toMatch(/secret_column|no_such_table|owner-secret-value/);
  });
});

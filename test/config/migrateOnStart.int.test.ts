import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestApp } from '../support/apiHarness';
import { ADMIN_URL, databaseUrl, dropDatabase, templateName } from '../support/testDatabase';

describe('MIGRATE_ON_START=false', () => {
  it('when migrations are pending, then start-up refuses and names them and the command to run', async () => {
    const name = `${templateName().replace(/_tpl$/, '')}_empty_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`create database "${name}"`);
    await admin.end();
    try {
      await expect(startTestApp({ MIGRATE_ON_START: 'false', DATABASE_URL: databaseUrl(name) })).rejects.toThrow(
        /migration\(s\) pending \(0001_event_store, .*\); run `order-ledger migrate` first/,
      );
      // Nothing was applied behind the operator's back.
      const check = new pg.Client({ connectionString: databaseUrl(name) });
      await check.connect();
      const tables = await check.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
      await check.end();
      expect(tables.rows[0].n).toBe(0);
    } finally {
      await dropDatabase(name);
    }
  });

  it('when the schema is current, then the process starts and serves', async () => {
    const app = await startTestApp({ MIGRATE_ON_START: 'false' });
    try {
      const ready = await app.request.get('/health');
      expect(ready.status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { appendStreamsFunctionSql } from '../../src/infra/eventstore/postgresSchema';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** The production function beside a copy that locks streams in request order, as a naive one would. */
const SORTED = 'order_ledger_append_streams';
const REQUEST_ORDER = 'test_append_streams_in_request_order';

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'append-streams-locking-test' });
  await client.connect();
  return client;
}

/** One multi-stream append of one event per stream, expecting any revision. */
function append(client: pg.Client, fn: string, streams: string[]): Promise<unknown> {
  return client.query(`select outcome from ${fn}($1::text[], $2::text[], $3::bigint[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[])`, [
    streams,
    streams.map(() => 'any'),
    streams.map(() => null),
    streams.map((_, i) => i + 1),
    streams.map(() => randomUUID()),
    streams.map(() => 'Noted'),
    streams.map(() => '{}'),
    streams.map(() => '{}'),
  ]);
}

async function waitUntilWaitingOnLocks(admin: pg.Client, pids: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where pid = any($1) and wait_event_type = 'Lock'`, [pids]);
    if (rows[0]!.n === pids.length) return;
    if (Date.now() > deadline) throw new Error(`backends ${pids.join(', ')} did not all wait on a lock within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Two appends over the same two streams named in opposite orders, each made to hold its first
 * stream while the second is still taken: the situation any two concurrent multi-stream appends
 * can reach. Two blocking transactions hold one stream each (FOR UPDATE) until both appends wait;
 * PostgreSQL queues row-lock waiters on a tuple lock, so the outcome does not depend on timing.
 */
async function crossedAppends(db: TestDatabase, fn: string): Promise<PromiseSettledResult<unknown>[]> {
  const [a, b] = [`stock-${randomUUID()}`, `stock-${randomUUID()}`];
  const clients = await Promise.all(Array.from({ length: 5 }, () => connect(db.url)));
  const [admin, holdA, holdB, first, second] = clients as [pg.Client, pg.Client, pg.Client, pg.Client, pg.Client];
  try {
    await append(admin, SORTED, [a, b]);
    await holdA.query('begin');
    await holdA.query('select 1 from streams where stream_id = $1 for update', [a]);
    await holdB.query('begin');
    await holdB.query('select 1 from streams where stream_id = $1 for update', [b]);
    const pid = async (client: pg.Client): Promise<number> => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const pids = [await pid(first), await pid(second)];
    const results = Promise.allSettled([append(first, fn, [a, b]), append(second, fn, [b, a])]);
    await waitUntilWaitingOnLocks(admin, pids);
    await holdA.query('commit');
    await holdB.query('commit');
    return await results;
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}

describe('order_ledger_append_streams lock order', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.knex.raw(appendStreamsFunctionSql({ name: REQUEST_ORDER, lockInRequestOrder: true }));
  });
  afterAll(async () => {
    await db.drop();
  });

  it('when streams were locked in request order, then two appends naming them in opposite orders deadlock and PostgreSQL aborts one', async () => {
    const [first, second] = await crossedAppends(db, REQUEST_ORDER);
    const outcomes = [first!, second!].map((r) => (r.status === 'fulfilled' ? 'appended' : (r.reason as { code?: string }).code));
    expect(outcomes.sort()).toEqual(['40P01', 'appended']);
  });

  it('when streams are locked in stream-id order (the real function), then the same two appends both succeed, one after the other', async () => {
    const results = await crossedAppends(db, SORTED);
    expect(results.map((r) => (r.status === 'fulfilled' ? 'appended' : (r.reason as Error).message))).toEqual(['appended', 'appended']);
  });
});

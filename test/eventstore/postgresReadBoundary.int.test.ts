import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const event = () => ({ id: randomUUID(), type: 'Noted', data: { at: new Date().toISOString() } });

/** A client holding a transaction open that has been given a transaction id. */
async function openTransaction(url: string): Promise<{ xid: bigint; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  const result = await client.query<{ xid: string }>('select pg_current_xact_id()::text as xid');
  return { xid: BigInt(result.rows[0]!.xid), client };
}

describe('PostgresEventStore read boundary', () => {
  let ours: TestDatabase;
  let other: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    [ours, other] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    store = new PostgresEventStore({ connectionString: ours.url, poolMax: 4, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await store.close();
    await Promise.all([ours.drop(), other.drop()]);
  });

  it('when a transaction of another database of the cluster stays open, then readers of $all are not held back by it', async () => {
    const open = await openTransaction(other.url);
    try {
      const appended = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
      // The event's transaction id is newer than the open one: the cluster-wide xmin is below it.
      expect(appended.position >> 20n).toBeGreaterThan(open.xid);
      const read = await store.readAll({ after: appended.position - 1n, limit: 10 });
      expect(read.map((e) => e.position)).toEqual([appended.position]);
      expect(await store.headPosition()).toBe(appended.position);
    } finally {
      await open.client.query('rollback');
      await open.client.end();
    }
  });

  it('when an older transaction of this database stays open, then later events are held back until it ends', async () => {
    const open = await openTransaction(ours.url);
    let released = false;
    try {
      const appended = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
      expect(await store.readAll({ after: appended.position - 1n, limit: 10 })).toEqual([]);
      await open.client.query('commit');
      released = true;
      const read = await store.readAll({ after: appended.position - 1n, limit: 10 });
      expect(read.map((e) => e.position)).toEqual([appended.position]);
    } finally {
      if (!released) await open.client.query('rollback');
      await open.client.end();
    }
  });

  it('when an append of this database commits after a newer one, then a reader sees neither out of order', async () => {
    const slow = new pg.Client({ connectionString: ours.url });
    await slow.connect();
    try {
      await slow.query('begin');
      const first = await slow.query<{ last_position: string }>(
        `select last_position from order_ledger_append($1, 'no_stream', null, array[$2::uuid], array['Noted'], array['{}'::jsonb], array['{}'::jsonb])`,
        [`note-${randomUUID()}`, randomUUID()],
      );
      const firstPosition = BigInt(first.rows[0]!.last_position);
      const second = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
      expect(second.position).toBeGreaterThan(firstPosition);
      // The newer event has committed, the older has not: reading past the older would skip it.
      expect(await store.readAll({ after: firstPosition - 1n, limit: 10 })).toEqual([]);
      await slow.query('commit');
      const read = await store.readAll({ after: firstPosition - 1n, limit: 10 });
      expect(read.map((e) => e.position)).toEqual([firstPosition, second.position]);
    } finally {
      await slow.end();
    }
  });
});

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { FIRST_EVENT_AFTER_SQL, PostgresEventStore, READ_ALL_SQL, READ_STREAMS_SQL, streamHasEventsSql } from '../../src/infra/eventstore/postgresEventStore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** The plan PostgreSQL picks for `sql` when it cannot use the parameter's value (a generic plan: default selectivities). */
async function genericPlan(client: pg.Client, sql: string, parameter: string): Promise<string> {
  await client.query('set plan_cache_mode = force_generic_plan');
  const name = `q_${randomUUID().replace(/-/g, '')}`;
  await client.query(`prepare ${name}(bigint) as ${sql}`);
  const plan = await client.query<{ 'QUERY PLAN': string }>(`explain execute ${name}(${parameter})`);
  await client.query(`deallocate ${name}`);
  return plan.rows.map((row) => row['QUERY PLAN']).join('\n');
}

describe('PostgresEventStore hot queries', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ connectionString: db.url, poolMax: 2 });
    for (let i = 0; i < 4; i++) {
      const events = Array.from({ length: 500 }, () => ({ id: randomUUID(), type: 'Noted', data: {} }));
      await store.appendToStream(`note-${randomUUID()}`, events, { expectedRevision: 'no_stream' });
    }
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('analyze events');
  });
  afterAll(async () => {
    await client.end();
    await store.close();
    await db.drop();
  });

  it('given statistics that say most events match, when a subscriber asks whether anything is past its position, then the plan probes the position index instead of scanning the table', async () => {
    const last = await store.lastPosition();
    const plan = await genericPlan(client, FIRST_EVENT_AFTER_SQL, last.toString());
    expect(plan).toMatch(/Index (Only )?Scan using events_pkey/);
    expect(plan).not.toContain('Seq Scan');
    // The check it replaces scans the table under the same statistics: the test would catch a regression to it.
    const old = await genericPlan(client, 'select exists (select 1 from events where position > $1) as held', last.toString());
    expect(old).toContain('Seq Scan');
  });

  it("when an order's placement asks whether a product's stock stream has events, then the plan probes the streams key, and an append's lock row (revision -1) is no stream", async () => {
    await client.query('prepare has_events(text) as select ' + streamHasEventsSql('$1') + ' as found');
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`explain execute has_events('note-x')`)).rows.map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index (Only )?Scan using streams_pkey/);
    expect(plan).not.toContain('Seq Scan');
    const found = async (streamId: string): Promise<boolean> => (await client.query<{ found: boolean }>(`select ${streamHasEventsSql('$1')} as found`, [streamId])).rows[0]!.found;
    const [stored] = await store.readAll({ after: -1n, limit: 1 });
    expect(await found(stored!.streamId)).toBe(true);
    expect(await found(`note-${randomUUID()}`)).toBe(false);
    const locking = `note-${randomUUID()}`;
    await client.query('insert into streams (stream_id, revision) values ($1, -1)', [locking]);
    expect(await found(locking)).toBe(false);
    await client.query('deallocate has_events');
  });

  it('given a generic plan (the store prepares its hot reads once per connection), when a subscriber reads $all past its position, then the plan walks the position index', async () => {
    await client.query('set plan_cache_mode = force_generic_plan');
    await client.query(`prepare read_all(bigint, int) as ${READ_ALL_SQL}`);
    const plan = (await client.query<{ 'QUERY PLAN': string }>('explain execute read_all(0, 500)')).rows.map((row) => row['QUERY PLAN']).join('\n');
    await client.query('deallocate read_all');
    expect(plan).toMatch(/Index Scan using events_pkey on events/);
    expect(plan).not.toMatch(/Seq Scan on events/);
    // And the store's own named statement answers: events in position order past the one given.
    const first = await store.readAll({ after: -1n, limit: 3 });
    const next = await store.readAll({ after: first[0]!.position, limit: 2 });
    expect(next.map((e) => e.id)).toEqual(first.slice(1).map((e) => e.id));
  });

  it('when events are past the position, then the check finds them; at the head, it finds none', async () => {
    const last = await store.lastPosition();
    expect(await store.hasHeldBackEvents(last - 1n)).toBe(true);
    expect(await store.hasHeldBackEvents(last)).toBe(false);
  });

  it('given many short streams (orders) and a generic plan, when the email jobs read several streams at once, then the plan probes the stream index instead of scanning the table', async () => {
    await store.appendToStreams(
      Array.from({ length: 300 }, () => ({ streamId: `order-${randomUUID()}`, events: [{ id: randomUUID(), type: 'Noted', data: {} }], expectedRevision: 'no_stream' as const })),
    );
    await client.query('analyze events');
    await client.query('set plan_cache_mode = force_generic_plan');
    await client.query(`prepare read_streams(text[], int) as ${READ_STREAMS_SQL}`);
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`explain execute read_streams(array['note-a', 'note-b'], 1000)`)).rows.map((row) => row['QUERY PLAN']).join('\n');
    await client.query('deallocate read_streams');
    expect(plan).toMatch(/Index Scan (using|on) events_stream_id_revision_key/);
    expect(plan).not.toMatch(/Seq Scan on events/);
  });
});

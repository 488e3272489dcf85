import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createProduct } from '../../src/commands/products';
import { stockStreamId } from '../../src/events/stockCodec';
import { FIRST_EVENT_AFTER_SQL, PostgresEventStore, READ_ALL_SQL, READ_STREAMS_SQL } from '../../src/infra/eventstore/postgresEventStore';
import { placementQuerySql } from '../../src/infra/db/placementFunction';
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

  it("when an order's placement reads a product, then it is stock-tracked only once its stock stream has events: an append's lock row (revision -1) is no stream", async () => {
    const product = await createProduct(db.knex, { sku: `SKU-PLAN-${randomUUID().slice(0, 8)}`, name: 'Probe', unitAmount: 100, currency: 'USD' }, new Date());
    const tracked = async (): Promise<boolean> => {
      const result = await db.knex.raw('select * from order_ledger_placement(?, ?::uuid[], true)', [randomUUID(), [product.id]]);
      return (result as { rows: Array<{ stock_tracked: boolean }> }).rows[0]!.stock_tracked;
    };
    expect(await tracked()).toBe(false);
    await client.query('insert into streams (stream_id, revision) values ($1, -1)', [stockStreamId(product.id)]);
    expect(await tracked()).toBe(false);
    await client.query('delete from streams where stream_id = $1', [stockStreamId(product.id)]);
    await store.appendToStream(stockStreamId(product.id), [{ id: randomUUID(), type: 'Noted', data: {} }], { expectedRevision: 'no_stream' });
    expect(await tracked()).toBe(true);
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

  it("given a generic plan (the placement function's), when an order is placed, then the catalog, the buyer's address and the stock probe are read by their primary keys", async () => {
    const sql = placementQuerySql(true, '$1', '$2');
    await client.query('set plan_cache_mode = force_generic_plan');
    await client.query(`prepare placement(uuid, uuid[]) as ${sql}`);
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`explain execute placement('${randomUUID()}', array['${randomUUID()}']::uuid[])`)).rows
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    await client.query('deallocate placement');
    expect(plan).toMatch(/(Index Scan using|Bitmap Index Scan on) products_pkey/);
    expect(plan).toMatch(/Index (Only )?Scan using users_pkey on users/);
    expect(plan).toMatch(/Index (Only )?Scan using streams_pkey on streams/);
    expect(plan).not.toContain('Seq Scan');
  });

  it('when an order is placed, then its read runs that generic plan: the function pins it, so PostgreSQL plans it once per connection instead of on every call', async () => {
    const config = await client.query<{ proconfig: string[] | null }>(`select proconfig from pg_proc where proname = 'order_ledger_placement'`);
    expect(config.rows).toEqual([{ proconfig: ['plan_cache_mode=force_generic_plan'] }]);
    // Without the pin, the same read prepared as a statement is planned anew on every call.
    await client.query('set plan_cache_mode = auto');
    await client.query(`prepare placement_custom(uuid, uuid[]) as ${placementQuerySql(true, '$1', '$2')}`);
    for (let i = 0; i < 8; i++) await client.query(`execute placement_custom('${randomUUID()}', array['${randomUUID()}']::uuid[])`);
    const counts = await client.query<{ generic_plans: string; custom_plans: string }>(
      `select generic_plans, custom_plans from pg_prepared_statements where name = 'placement_custom'`,
    );
    await client.query('deallocate placement_custom');
    expect(counts.rows).toEqual([{ generic_plans: '0', custom_plans: '8' }]);
  });
});

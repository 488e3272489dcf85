import { AdvisoryLock } from '../../src/infra/db/advisoryLock';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { readCheckpoints } from '../../src/infra/eventstore/singletonSubscriber';
import {
  admin,
  createCliLedger,
  expectOneLineFailure,
  nextTime,
  projectAll,
  readModelRows,
  runCli,
  seedOrder,
  startProjector,
  waitUntilProjected,
  type CliLedger,
} from './cliHarness';

async function indexNames(ledger: CliLedger): Promise<string[]> {
  const result = await ledger.db.knex.raw<{ rows: { name: string }[] }>(`select indexname as name from pg_indexes where tablename in ('orders', 'order_history') order by 1`);
  return result.rows.map((r) => r.name);
}

async function checkpoints(ledger: CliLedger): Promise<Map<string, bigint>> {
  return readCheckpoints(ledger.db.knex, ['orders', 'order_history']);
}

describe('order-ledger projections rebuild', () => {
  let ledger: CliLedger;
  let before: Awaited<ReturnType<typeof readModelRows>>;
  let indexesBefore: string[];
  let checkpointsBefore: Map<string, bigint>;

  beforeAll(async () => {
    ledger = await createCliLedger();
    for (let i = 0; i < 12; i++) await seedOrder(ledger.store, i % 5);
    await seedOrder(ledger.store, 1, [{ type: 'CancelOrder', data: { by: 'admin', now: nextTime() } }]);
    await projectAll(ledger);
    before = await readModelRows(ledger);
    indexesBefore = await indexNames(ledger);
    checkpointsBefore = await checkpoints(ledger);
    expect(before.orders).toHaveLength(13);
    expect(before.history).toHaveLength(37);
    expect(indexesBefore).toEqual(expect.arrayContaining(['orders_pkey', 'orders_placed_idx', 'orders_user_status_placed_idx', 'order_history_pkey']));
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when the read models were emptied, then it restores them row for row and reports a speed', async () => {
    await ledger.db.knex.raw('truncate orders, order_history');
    const run = await runCli(['projections', 'rebuild', '--batch-size', '7'], ledger.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^rebuilt orders, order_history, product_stock from 37 event\(s\) \(37 order events\) in [\d.]+ s: \d+ events\/s; checkpoint \d+$/m);
    expect(run.stderr).toMatch(/^rebuild: 37\/37 events$/m);
    expect(await readModelRows(ledger)).toEqual(before);
    expect(await indexNames(ledger)).toEqual(indexesBefore);
    expect(await checkpoints(ledger)).toEqual(checkpointsBefore);
    expect((await runCli(['audit', 'verify'], ledger.env)).code).toBe(0);
  });

  it("when the tables were dropped, then it recreates them with the migrations' shape and the same rows", async () => {
    await ledger.db.knex.raw('drop table orders; drop table order_history');
    const run = await runCli(['projections', 'rebuild', '--json'], ledger.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ projections: ['orders', 'order_history', 'product_stock'], events: 37, orderEvents: 37, liveProjector: false });
    expect(await readModelRows(ledger)).toEqual(before);
    expect(await indexNames(ledger)).toEqual(indexesBefore);
    const leftovers = await ledger.db.knex.raw<{ rows: unknown[] }>(
      `select 1 from pg_class where relname like '%\\_\\_rebuild%' union all select 1 from pg_namespace where nspname = 'order_ledger_rebuild_shape'`,
    );
    expect(leftovers.rows).toHaveLength(0);
  });

  it('when only one read model is named, then only that one is rebuilt', async () => {
    await ledger.db.knex('orders').update({ status: 'CANCELLED' });
    const historyOid = await ledger.db.knex.raw<{ rows: { oid: string }[] }>(`select 'order_history'::regclass::oid as oid`);
    const run = await runCli(['projections', 'rebuild', '--name', 'orders'], ledger.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^rebuilt orders from 37 event/m);
    expect(await readModelRows(ledger)).toEqual(before);
    const after = await ledger.db.knex.raw<{ rows: { oid: string }[] }>(`select 'order_history'::regclass::oid as oid`);
    expect(after.rows[0]!.oid).toBe(historyOid.rows[0]!.oid);
  });

  it('when a live projector runs and orders keep coming, then the swap loses nothing', async () => {
    const projector = startProjector(ledger, 5);
    let writing = true;
    const writer = (async () => {
      // Bounded: stops when the rebuild ends or after 200 orders, whichever comes first.
      for (let i = 0; writing && i < 200; i++) {
        const { orderId } = await seedOrder(ledger.store, 1);
        await handleOrderCommand(ledger.store, orderId, { type: 'ChangeStatus', data: { to: 'PROCESSING', now: nextTime() } }, { context: { actor: admin } });
      }
    })();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const run = await runCli(['projections', 'rebuild', '--batch-size', '10', '--json'], ledger.env);
      writing = false;
      await writer;
      expect(run.stderr).not.toContain('order-ledger:');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ liveProjector: true });
      await waitUntilProjected(ledger);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await projector.stop();
    }
    const verify = await runCli(['audit', 'verify', '--json'], ledger.env);
    expect(verify.stdout).toContain('"ok":true');
    expect(verify.code).toBe(0);
    const rows = await readModelRows(ledger);
    expect(rows.orders.length).toBeGreaterThan(13);
    // And a second rebuild from a quiet ledger produces exactly what the live projector left.
    expect((await runCli(['projections', 'rebuild'], ledger.env)).code).toBe(0);
    expect(await readModelRows(ledger)).toEqual(rows);
  });

  it('when a long query holds the live table, then it gives up after the lock timeout and leaves everything as it was', async () => {
    const rows = await readModelRows(ledger);
    const reader = await ledger.db.knex.transaction();
    try {
      await reader.raw('select count(*) from orders');
      const run = await runCli(['projections', 'rebuild', '--lock-timeout', '300'], ledger.env);
      expect(expectOneLineFailure(run)).toBe(
        'order-ledger: could not lock orders, order_history, product_stock, projection_checkpoints within 300 ms (long-running queries?); nothing was swapped, run rebuild again',
      );
    } finally {
      await reader.rollback();
    }
    expect(await readModelRows(ledger)).toEqual(rows);
    const leftovers = await ledger.db.knex.raw<{ rows: unknown[] }>(`select 1 from pg_class where relname like '%\\_\\_rebuild%'`);
    expect(leftovers.rows).toHaveLength(0);
  });

  it('when another rebuild is running, then it refuses with one line', async () => {
    const other = new AdvisoryLock(ledger.db.url, 'order-ledger:rebuild');
    expect(await other.tryAcquire(() => undefined)).toBe(true);
    try {
      expect(expectOneLineFailure(await runCli(['projections', 'rebuild'], ledger.env))).toBe('order-ledger: another projections rebuild is running');
    } finally {
      await other.release();
    }
  });

  it('when the name is unknown, then it fails with one line', async () => {
    const run = await runCli(['projections', 'rebuild', '--name', 'nope'], ledger.env);
    expect(expectOneLineFailure(run)).toContain("error: option '--name <name>' argument 'nope' is invalid");
  });
});

import type { Projection } from '../../src/projections/projection';
import { ordersProjection } from '../../src/projections/ordersProjection';
import { orderHistoryProjection } from '../../src/projections/orderHistoryProjection';
import { verifyReadModels } from '../../src/cli/verify';
import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import { createCliLedger, expectOneLineFailure, projectAll, runCli, seedOrder, type CliLedger } from './cliHarness';

interface VerifyJson {
  ok: boolean;
  streams: number;
  events: number;
  mismatchCount: number;
  skippedRows: number;
  mismatches: { orderId: string; table: string; key: Record<string, unknown>; field: string; expected: unknown; found: unknown; check: string }[];
}

describe('order-ledger audit verify', () => {
  let ledger: CliLedger;
  const orders: string[] = [];

  beforeAll(async () => {
    ledger = await createCliLedger();
    for (let steps = 0; steps <= 4; steps++) orders.push((await seedOrder(ledger.store, steps)).orderId);
    orders.push((await seedOrder(ledger.store, 1, [{ type: 'CancelOrder', data: { by: 'admin', reason: 'customer asked', now: '2026-03-05T00:00:00.000Z' } }])).orderId);
    // A stream outside the order category: the projector skips it, so must verify.
    await ledger.store.appendToStream('audit-1', [{ id: '6a0c2c1e-5d7b-4f7e-9a53-0c2f8e5d7b11', type: 'Noted', data: {} }], { expectedRevision: 'any' });
    await projectAll(ledger);
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when the read models match the events, then it reports no mismatch and exits 0', async () => {
    const run = await runCli(['audit', 'verify'], ledger.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^verified 6 order stream\(s\), 19 event\(s\) at orders=\d+, order_history=\d+, product_stock=\d+: 0 mismatch\(es\)$/m);
    expect(run.stderr).toMatch(/^verify: 20\/20 events$/m); // plain progress lines when not on a terminal
    const json = JSON.parse((await runCli(['audit', 'verify', '--json'], ledger.env)).stdout) as VerifyJson;
    expect(json).toMatchObject({ ok: true, streams: 6, events: 19, mismatchCount: 0, mismatches: [] });
  });

  it('when an orders row is tampered with, then it names the order and field and exits 1', async () => {
    const delivered = orders[4]!;
    await ledger.db.knex('orders').where({ id: delivered }).update({ status: 'CANCELLED' });
    try {
      const run = await runCli(['audit', 'verify'], ledger.env);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`mismatch order ${delivered} orders.status: expected "DELIVERED", found "CANCELLED"`);
      expect(run.stdout).toMatch(/: 1 mismatch\(es\)$/m);
      const json = JSON.parse((await runCli(['audit', 'verify', '--json'], ledger.env)).stdout) as VerifyJson;
      expect(json.ok).toBe(false);
      expect(json.mismatches).toEqual([{ orderId: delivered, table: 'orders', key: {}, field: 'status', expected: 'DELIVERED', found: 'CANCELLED', check: 'replay' }]);
    } finally {
      await ledger.db.knex('orders').where({ id: delivered }).update({ status: 'DELIVERED' });
    }
  });

  it('when history rows are changed, missing or extra, then each is a mismatch', async () => {
    const paid = orders[1]!;
    const knex = ledger.db.knex;
    const removed = await knex('order_history').where({ order_id: orders[2], revision: 2 }).first();
    await knex('order_history').where({ order_id: paid, revision: 1 }).update({ to_status: 'REFUNDED', actor_id: 'someone-else' });
    await knex('order_history').where({ order_id: orders[2], revision: 2 }).delete();
    const copy = (await knex('orders').where({ id: paid }).first()) as { items: unknown };
    await knex('orders').insert({ ...copy, items: JSON.stringify(copy.items), id: '00000000-0000-4000-8000-000000000001' });
    try {
      const run = await runCli(['audit', 'verify', '--json'], ledger.env);
      expect(run.code).toBe(1);
      const json = JSON.parse(run.stdout) as VerifyJson;
      expect(json.mismatches).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ orderId: paid, table: 'order_history', key: { revision: 1 }, field: 'actor_id', expected: 'admin-1', found: 'someone-else' }),
          expect.objectContaining({ orderId: paid, table: 'order_history', key: { revision: 1 }, field: 'to_status', expected: 'PAID', found: 'REFUNDED' }),
          expect.objectContaining({ orderId: orders[2], table: 'order_history', key: { revision: 2 }, field: '(row)', expected: 'a row', found: 'no row' }),
          expect.objectContaining({ orderId: '00000000-0000-4000-8000-000000000001', table: 'orders', field: '(row)', expected: 'no row', found: 'a row' }),
        ]),
      );
      expect(json.mismatchCount).toBe(4);
      const text = await runCli(['audit', 'verify', '--limit', '1'], ledger.env);
      expect(text.stdout).toContain('mismatch order 00000000-0000-4000-8000-000000000001 orders.(row): expected "no row", found "a row"');
      expect(text.stdout.match(/^mismatch /gm)).toHaveLength(1);
      expect(text.stdout).toContain('(3 more mismatches not listed)');
    } finally {
      await knex('orders').where({ id: '00000000-0000-4000-8000-000000000001' }).delete();
      await knex('order_history').where({ order_id: paid, revision: 1 }).update({ to_status: 'PAID', actor_id: 'admin-1' });
      await knex('order_history').insert(removed);
    }
    expect((await runCli(['audit', 'verify'], ledger.env)).code).toBe(0);
  });

  it('when events arrived after the projector last ran, then they are not counted as mismatches', async () => {
    await seedOrder(ledger.store, 2);
    const run = await runCli(['audit', 'verify', '--json'], ledger.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, streams: 6, events: 19 });
  });

  it('when a read-model table is gone, then it fails with one line naming the fix', async () => {
    await ledger.db.knex.raw('alter table order_history rename to order_history_away');
    try {
      const run = await runCli(['audit', 'verify'], ledger.env);
      expect(expectOneLineFailure(run)).toBe(
        'order-ledger: read-model table order_history does not exist; restore it with `order-ledger projections rebuild --name order_history`',
      );
    } finally {
      await ledger.db.knex.raw('alter table order_history_away rename to order_history');
    }
  });

  it('when the database does not exist, then it fails with one line and no stack', async () => {
    const url = new URL(ledger.db.url);
    url.pathname = '/ol_test_no_such_database';
    const run = await runCli(['audit', 'verify'], { DATABASE_URL: url.toString() });
    expect(expectOneLineFailure(run)).toBe('order-ledger: database "ol_test_no_such_database" does not exist (run `order-ledger migrate` to create it)');
  });

  it('when the projection logic disagrees with the decider, then the fold check reports it', async () => {
    // A projection with a bug: it forgets every status change after placement.
    const forgetful: Projection = {
      ...ordersProjection,
      async apply(trx, events, tableOf = (t) => t) {
        await ordersProjection.apply(trx, events, tableOf);
        await trx(tableOf('orders')).update({ status: 'PENDING' });
      },
    };
    const report = await verifyReadModels({
      knex: ledger.db.knex,
      store: ledger.store,
      projections: [forgetful, orderHistoryProjection],
      batchSize: 7,
      maxReported: 100,
    });
    expect(report.mismatches).toEqual(
      expect.arrayContaining([
        { orderId: orders[4], table: 'orders', key: {}, field: 'status', expected: 'DELIVERED', found: 'PENDING', check: 'fold' },
        { orderId: orders[4], table: 'orders', key: {}, field: 'status', expected: 'PENDING', found: 'DELIVERED', check: 'replay' },
      ]),
    );
    expect(report.mismatches.filter((m) => m.check === 'fold')).toHaveLength(5);
  });

  it('when a payment of the wrong amount was given back, then the read models show the refund completed and verify agrees', async () => {
    const orderId = randomUUID();
    const at = '2026-03-06T00:00:00.000Z';
    const commands: OrderCommand[] = [
      {
        type: 'PlaceOrder',
        data: {
          orderId,
          userId: randomUUID(),
          items: [{ productId: randomUUID(), sku: 'SKU-1', name: 'Widget', quantity: 1, unitAmount: 2500, lineAmount: 2500 }],
          currency: 'EUR',
          paymentMethod: 'STRIPE',
          now: at,
        },
      },
      { type: 'InitiatePayment', data: { provider: 'STRIPE', providerReference: 'pi_stray', now: at } },
      { type: 'RecordPaymentSuccess', data: { provider: 'STRIPE', providerReference: 'pi_stray', amount: 2400, currency: 'EUR', now: at } },
      { type: 'RecordRefund', data: { provider: 'STRIPE', providerReference: 're_stray', paymentReference: 'pi_stray', amount: 2400, currency: 'EUR', now: at } },
    ];
    for (const command of commands) await handleOrderCommand(ledger.store, orderId, command);
    await projectAll(ledger);

    const row = (await ledger.db.knex('orders').where({ id: orderId }).first()) as Record<string, unknown>;
    expect(row).toMatchObject({ status: 'PAYMENT_FAILED', payment_status: 'FAILED', stray_refunds_pending: 0, stray_refunds_completed: 1 });
    const history = (await ledger.db.knex('order_history').where({ order_id: orderId }).orderBy('revision')) as { event_type: string }[];
    expect(history.map((h) => h.event_type)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentFailed', 'RefundRequested', 'StrayPaymentRefunded']);
    const clean = await runCli(['audit', 'verify', '--json'], ledger.env);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, mismatchCount: 0 });

    await ledger.db.knex('orders').where({ id: orderId }).update({ stray_refunds_pending: 1, stray_refunds_completed: 0 });
    try {
      const run = await runCli(['audit', 'verify', '--json'], ledger.env);
      expect(run.code).toBe(1);
      expect((JSON.parse(run.stdout) as VerifyJson).mismatches).toEqual([
        { orderId, table: 'orders', key: {}, field: 'stray_refunds_completed', expected: 1, found: 0, check: 'replay' },
        { orderId, table: 'orders', key: {}, field: 'stray_refunds_pending', expected: 0, found: 1, check: 'replay' },
      ]);
    } finally {
      await ledger.db.knex('orders').where({ id: orderId }).update({ stray_refunds_pending: 0, stray_refunds_completed: 1 });
    }
  });
});

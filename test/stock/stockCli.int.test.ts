import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { handleStockCommand } from '../../src/commands/stock/stockCommandHandler';
import { STOCK_SNAPSHOT_SCHEMA } from '../../src/commands/stock/stockSnapshot';
import { createCliLedger, runCli, type CliLedger } from '../cli/cliHarness';

const admin = { actor: { type: 'admin' as const, id: 'admin-1' } };

describe('order-ledger CLI over stock streams', () => {
  let ledger: CliLedger;
  const productId = randomUUID();
  const orderId = randomUUID();

  beforeAll(async () => {
    ledger = await createCliLedger();
    expect((await runCli(['migrate'], ledger.env)).code).toBe(0);
    await handleStockCommand(ledger.store, productId, { type: 'ReceiveStock', data: { productId, quantity: 5, now: '2026-03-01T09:00:00.000Z' } }, { context: admin });
    const items = [{ productId, sku: 'MUG', name: 'Mug', quantity: 2, unitAmount: 1250, lineAmount: 2500 }];
    await handleOrderCommand(ledger.store, orderId, {
      type: 'PlaceOrder',
      data: { orderId, userId: randomUUID(), items, currency: 'USD', paymentMethod: 'MANUAL', now: '2026-03-01T09:01:00.000Z' },
    });
    await handleOrderCommand(ledger.store, orderId, { type: 'CancelOrder', data: { by: 'user', reason: 'changed my mind', now: '2026-03-01T09:02:00.000Z' } });
  }, 60_000);

  afterAll(async () => {
    await ledger.close();
  });

  it('when audit replay is given a stock stream, then it prints every stock event with on hand and reserved after it', async () => {
    const run = await runCli(['audit', 'replay', `stock-${productId}`], ledger.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/StockReceived\s+admin:admin-1\s+5\s+0\s+\+5 received/);
    expect(run.stdout).toMatch(new RegExp(`StockReserved\\s+\\S+\\s+5\\s+2\\s+2 for order ${orderId}`));
    expect(run.stdout).toMatch(/StockReleased\s+\S+\s+5\s+0/);
    expect(run.stdout).toMatch(/^ {2}available: 5$/m);

    const earlier = await runCli(['audit', 'replay', `stock-${productId}`, '--at', '2026-03-01T09:01:30Z'], ledger.env);
    expect(earlier.stdout).toMatch(/^ {2}reserved: 2$/m);
    expect(earlier.stdout).toContain('(1 later event(s) not folded)');
  }, 90_000);

  it('when a stock snapshot is stored, then audit replay checks it against the fold of the events and fails when it differs', async () => {
    const streamId = `stock-${productId}`;
    const events = await ledger.store.readStream(streamId);
    const third = events[2]!;
    const snapshot = { streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: third.revision, eventId: third.id };
    const reservedState = { tracked: true, productId, onHand: 5, reserved: 2, reservations: { [orderId]: { quantity: 2, status: 'RESERVED', returned: 0 } } };
    await ledger.store.snapshots.save({ ...snapshot, state: reservedState });
    const agreeing = await runCli(['audit', 'replay', streamId], ledger.env);
    expect(agreeing.code).toBe(0);
    expect(agreeing.stdout).toContain(`snapshot at r${third.revision}: agrees with the fold of the events`);

    // A later snapshot at the same place that a reader would trust, with a wrong count.
    const last = events.at(-1)!;
    await ledger.store.snapshots.save({ ...snapshot, revision: last.revision, eventId: last.id, state: { ...reservedState, reserved: 2 } });
    const differing = await runCli(['audit', 'replay', streamId], ledger.env);
    expect(differing.code).toBe(1);
    expect(differing.stdout).toContain(`snapshot at r${last.revision}: DIFFERS from the fold of the events`);
    expect(differing.stdout).toMatch(/^ {2}reserved: 0$/m);
    await ledger.db.knex('stream_snapshots').where({ stream_id: streamId }).del();
  }, 90_000);

  it('when the read models are rebuilt, then product_stock is rebuilt from the stock stream and audit verify is clean; a tampered row is reported', async () => {
    const rebuilt = await runCli(['projections', 'rebuild'], ledger.env);
    expect(rebuilt.code).toBe(0);
    const row = await ledger.db.knex('product_stock').where({ product_id: productId }).first();
    expect(row).toMatchObject({ on_hand: '5', reserved: '0' });

    expect((await runCli(['audit', 'verify'], ledger.env)).code).toBe(0);
    await ledger.db.knex('product_stock').where({ product_id: productId }).update({ reserved: 3 });
    const verified = await runCli(['audit', 'verify'], ledger.env);
    expect(verified.code).toBe(1);
    expect(verified.stdout + verified.stderr).toContain('product_stock');
  }, 90_000);
});

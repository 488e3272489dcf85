import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import { createCliLedger, projectAll, runCli, type CliLedger } from './cliHarness';

describe('audit verify, audit replay and projections rebuild over partial refunds and returns', () => {
  let ledger: CliLedger;
  const orderId = randomUUID();
  const mug = randomUUID();
  const [refundA, refundB, returnId, refundC] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];

  beforeAll(async () => {
    ledger = await createCliLedger();
    const at = (day: number) => `2026-03-${String(day).padStart(2, '0')}T10:00:00.000Z`;
    const commands: OrderCommand[] = [
      {
        type: 'PlaceOrder',
        data: {
          orderId,
          userId: randomUUID(),
          items: [{ productId: mug, sku: 'MUG-01', name: 'Mug', quantity: 4, unitAmount: 1000, lineAmount: 4000 }],
          currency: 'USD',
          paymentMethod: 'STRIPE',
          now: at(1),
        },
      },
      { type: 'InitiatePayment', data: { provider: 'STRIPE', providerReference: 'pi_1', now: at(1) } },
      { type: 'RecordPaymentSuccess', data: { provider: 'STRIPE', providerReference: 'pi_1', amount: 4000, currency: 'USD', now: at(1) } },
      { type: 'RequestPartialRefund', data: { refundId: refundA, amount: 500, reason: 'late', now: at(2) } },
      { type: 'RecordRefundFailure', data: { refundId: refundA, attempt: 1, provider: 'STRIPE', reason: 'expired_or_canceled_card', now: at(2) } },
      { type: 'RetryRefund', data: { refundId: refundA, now: at(3) } },
      { type: 'RecordPartialRefund', data: { refundId: refundA, provider: 'STRIPE', providerRefundId: 're_a', amount: 500, currency: 'USD', now: at(3) } },
      { type: 'RequestPartialRefund', data: { refundId: refundB, lines: [{ productId: mug, quantity: 1 }], reason: 'chipped', now: at(4) } },
      { type: 'RecordRefund', data: { provider: 'STRIPE', providerReference: 're_dash', paymentReference: 'pi_1', amount: 1700, currency: 'USD', now: at(5) } },
      { type: 'ChangeStatus', data: { to: 'PROCESSING', now: at(6) } },
      { type: 'ChangeStatus', data: { to: 'SHIPPED', now: at(6) } },
      { type: 'ChangeStatus', data: { to: 'DELIVERED', now: at(7) } },
      { type: 'RequestReturn', data: { returnId, lines: [{ productId: mug, quantity: 2 }], reason: 'too small', windowDays: 30, now: at(8) } },
      { type: 'ApproveReturn', data: { returnId, now: at(9) } },
      { type: 'ReceiveReturn', data: { returnId, damaged: [], refundId: refundC, now: at(10) } },
      { type: 'RecordPartialRefund', data: { refundId: refundC, provider: 'STRIPE', amount: 2000, currency: 'USD', now: at(11) } },
    ];
    for (const command of commands) await handleOrderCommand(ledger.store, orderId, command);
    await projectAll(ledger);
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when the projector has applied the events, then the orders row shows the refunds and the return, and verify is clean', async () => {
    const row = (await ledger.db.knex('orders').where({ id: orderId }).first()) as Record<string, unknown>;
    expect(row).toMatchObject({ status: 'DELIVERED', payment_status: 'PARTIALLY_REFUNDED', refunded_amount: '3700' });
    expect((row.refunds as { refundId: string | null; status: string; amount: number }[]).map((r) => [r.refundId, r.status, r.amount])).toEqual([
      [refundA, 'SUCCEEDED', 500],
      [refundB, 'SUCCEEDED', 1000],
      [null, 'SUCCEEDED', 200],
      [refundC, 'SUCCEEDED', 2000],
    ]);
    expect(row.returns).toEqual([expect.objectContaining({ returnId, status: 'RECEIVED' })]);
    const run = await runCli(['audit', 'verify', '--json'], ledger.env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, mismatchCount: 0 });
  });

  it('when refunded_amount is tampered with, then verify names the order and the field', async () => {
    await ledger.db.knex('orders').where({ id: orderId }).update({ refunded_amount: 99 });
    try {
      const run = await runCli(['audit', 'verify', '--json'], ledger.env);
      expect(run.code).toBe(1);
      const fields = (JSON.parse(run.stdout) as { mismatches: { field: string; check: string }[] }).mismatches.map((m) => `${m.check}:${m.field}`);
      expect(fields).toEqual(['replay:refunded_amount']);
    } finally {
      await ledger.db.knex('orders').where({ id: orderId }).update({ refunded_amount: 3700 });
    }
  });

  it('when the order is replayed, then every refund and return event is a step with what it carried', async () => {
    const run = await runCli(['audit', 'replay', orderId], ledger.env);
    expect(run.code).toBe(0);
    for (const text of [
      'RefundFailed',
      'refused by STRIPE: expired_or_canceled_card',
      'RefundRetryRequested',
      'refund by the provider: 200 USD',
      'ReturnRequested',
      'ReturnApproved',
      'ReturnReceived',
      '3700 USD in all',
    ]) {
      expect(run.stdout).toContain(text);
    }
  });

  it('when the projections are rebuilt, then the rows are the same and verify stays clean', async () => {
    const before = await ledger.db.knex('orders').where({ id: orderId }).first();
    const rebuild = await runCli(['projections', 'rebuild'], ledger.env);
    expect(rebuild.code).toBe(0);
    expect(await ledger.db.knex('orders').where({ id: orderId }).first()).toEqual(before);
    expect((await runCli(['audit', 'verify'], ledger.env)).code).toBe(0);
  });
});

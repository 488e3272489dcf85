import { evolve, initialOrderState, type OrderState } from '../../src/commands/order/orderDecider';
import { diffRows, expectedOrderRow, showValue } from '../../src/cli/rowDiff';
import { indexShape } from '../../src/cli/tables';

// Built by the decider's own evolve, so the test follows the state's shape as it grows.
const paid: OrderState = [
  {
    type: 'OrderPlaced' as const,
    data: {
      orderId: '3f2a0000-0000-4000-8000-000000000001',
      userId: '3f2a0000-0000-4000-8000-000000000002',
      items: [{ productId: '3f2a0000-0000-4000-8000-000000000003', sku: 'S', name: 'N', quantity: 1, unitAmount: 2500, lineAmount: 2500 }],
      totalAmount: 2500,
      currency: 'EUR',
      paymentMethod: 'MANUAL' as const,
      placedAt: '2026-04-01T10:00:00.000Z',
    },
  },
  {
    type: 'PaymentSucceeded' as const,
    data: { orderId: '3f2a0000-0000-4000-8000-000000000001', provider: 'MANUAL' as const, amount: 2500, currency: 'EUR', succeededAt: '2026-04-01T10:01:00.000Z' },
  },
].reduce<OrderState>(evolve, initialOrderState);

describe('expectedOrderRow', () => {
  it('when the order exists, then it gives the orders columns the fold decides', () => {
    expect(expectedOrderRow(paid, 1n)).toEqual({
      id: '3f2a0000-0000-4000-8000-000000000001',
      user_id: '3f2a0000-0000-4000-8000-000000000002',
      status: 'PAID',
      total_amount: 2500,
      currency: 'EUR',
      payment_method: 'MANUAL',
      refunded_amount: 0,
      revision: 1,
    });
  });

  it('when the stream never placed an order, then no row is expected', () => {
    expect(expectedOrderRow(initialOrderState, 0n)).toBeUndefined();
  });
});

describe('diffRows', () => {
  const row = { id: 'a', status: 'PAID', items: [{ sku: 'X', quantity: 1 }], detail: { b: 1, a: 2 }, refunded_amount: 0 };

  it('when rows are equal, then there is no difference, whatever the key order of nested objects', () => {
    expect(diffRows(row, { ...row, detail: { a: 2, b: 1 } })).toEqual([]);
  });

  it('when fields differ, then each is named with both values, in column order', () => {
    expect(diffRows(row, { ...row, status: 'CANCELLED', items: [{ sku: 'X', quantity: 2 }] })).toEqual([
      { field: 'items', expected: [{ sku: 'X', quantity: 1 }], found: [{ sku: 'X', quantity: 2 }] },
      { field: 'status', expected: 'PAID', found: 'CANCELLED' },
    ]);
  });

  it('when a column is missing on one side, then null stands for it', () => {
    expect(diffRows({ id: 'a', note: 'x' }, { id: 'a' })).toEqual([{ field: 'note', expected: 'x', found: null }]);
    expect(diffRows({ id: 'a', note: null }, { id: 'a' })).toEqual([]);
  });

  it('when a row is missing or unexpected, then the row itself is the difference', () => {
    expect(diffRows(row, undefined)).toEqual([{ field: '(row)', expected: 'a row', found: 'no row' }]);
    expect(diffRows(undefined, row)).toEqual([{ field: '(row)', expected: 'no row', found: 'a row' }]);
    expect(diffRows(undefined, undefined)).toEqual([]);
  });

  it('when limited to some fields, then the others are ignored', () => {
    expect(diffRows({ status: 'PAID', total_amount: 1 }, { status: 'PAID', total_amount: 1, payment_status: 'SUCCEEDED' }, ['status', 'total_amount'])).toEqual([]);
  });

  it('shows strings quoted and null visibly', () => {
    expect(showValue('PAID')).toBe('"PAID"');
    expect(showValue(null)).toBe('null');
    expect(showValue({ b: 1, a: [1] })).toBe('{"a":[1],"b":1}');
  });
});

describe('indexShape', () => {
  it('when two tables carry the same index under different names, then their shapes are equal', () => {
    expect(indexShape('CREATE INDEX orders_placed_idx ON public.orders USING btree (placed_at DESC, id DESC)')).toBe(
      indexShape('CREATE INDEX orders__rebuild_placed_at_id_idx ON public.orders__rebuild USING btree (placed_at DESC, id DESC)'),
    );
    expect(indexShape('CREATE UNIQUE INDEX "Odd name" ON "my schema"."t" USING btree (id)')).toBe('UNIQUE USING btree (id)');
    expect(indexShape('CREATE UNIQUE INDEX a ON t USING btree (id)')).not.toBe(indexShape('CREATE INDEX a ON t USING btree (id)'));
  });
});

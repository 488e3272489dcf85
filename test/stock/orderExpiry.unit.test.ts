import { decide, evolve, initialOrderState, PAYMENT_WINDOW_EXPIRED, type OrderState } from '../../src/commands/order/orderDecider';
import type { OrderEvent } from '../../src/events/orderEvents';
import { ConfigError, loadConfig } from '../../src/infra/config/config';

const orderId = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const placedAt = '2026-03-01T09:00:00.000Z';
const TTL = 30 * 60_000;
const at = (ms: number): string => new Date(Date.parse(placedAt) + ms).toISOString();

const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: {
    orderId,
    userId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    items: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', sku: 'MUG', name: 'Mug', quantity: 1, unitAmount: 1250, lineAmount: 1250 }],
    totalAmount: 1250,
    currency: 'USD',
    paymentMethod: 'STRIPE',
    placedAt,
  },
};
const given = (...events: OrderEvent[]): OrderState => events.reduce(evolve, initialOrderState);
const expire = (now: string) => ({ type: 'ExpireOrder' as const, data: { ttlMs: TTL, now } });

describe('order expiry (decider)', () => {
  it('given an order awaiting payment, when its window has closed, then it is cancelled as expired', () => {
    expect(decide(expire(at(TTL)), given(placed))).toEqual([{ type: 'OrderCancelled', data: { orderId, from: 'PENDING', reason: PAYMENT_WINDOW_EXPIRED, cancelledAt: at(TTL) } }]);
  });

  it('given a failed payment, when the window closes, then it expires from PAYMENT_FAILED', () => {
    const failed: OrderEvent = { type: 'PaymentFailed', data: { orderId, provider: 'STRIPE', reason: 'declined', failedAt: at(1000) } };
    expect(decide(expire(at(TTL + 1)), given(placed, failed))[0]).toMatchObject({ data: { from: 'PAYMENT_FAILED' } });
  });

  it('given an order inside its window, when expiry is asked, then nothing happens', () => {
    expect(decide(expire(at(TTL - 1)), given(placed))).toEqual([]);
  });

  it('given a paid or cancelled order, when expiry is asked, then nothing happens', () => {
    const paid: OrderEvent = { type: 'PaymentSucceeded', data: { orderId, provider: 'STRIPE', amount: 1250, currency: 'USD', succeededAt: at(1000) } };
    const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId, from: 'PENDING', cancelledAt: at(1000) } };
    expect(decide(expire(at(TTL * 2)), given(placed, paid))).toEqual([]);
    expect(decide(expire(at(TTL * 2)), given(placed, cancelled))).toEqual([]);
  });
});

describe('ORDER_PAYMENT_TTL', () => {
  it('when unset, then 30 minutes; when given as a duration, then its milliseconds', () => {
    expect(loadConfig({}).ORDER_PAYMENT_TTL).toBe(30 * 60_000);
    expect(loadConfig({ ORDER_PAYMENT_TTL: '90s' }).ORDER_PAYMENT_TTL).toBe(90_000);
    expect(loadConfig({ ORDER_PAYMENT_TTL: '2h' }).ORDER_PAYMENT_TTL).toBe(7_200_000);
  });

  it.each(['30', 'soon', '0m', '-5m', '31d'])('when it is %j, then the configuration is refused naming it', (value) => {
    expect(() => loadConfig({ ORDER_PAYMENT_TTL: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ORDER_PAYMENT_TTL: value })).toThrow(/ORDER_PAYMENT_TTL/);
  });
});

import { CliFailure } from '../../src/cli/output';
import { formatReplay, parseMoment, parseOrderId, replayOrderEvents } from '../../src/cli/replay';
import type { StoredOrderEvent } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';

const orderId = '3f2a0000-0000-4000-8000-00000000000a';
const userId = '3f2a0000-0000-4000-8000-00000000000b';

function stored(revision: number, event: OrderEvent, actor?: { type: 'user' | 'admin' | 'system' | 'provider'; id?: string }): StoredOrderEvent {
  return {
    event,
    id: `00000000-0000-4000-8000-00000000000${revision}`,
    streamId: `order-${orderId}`,
    revision: BigInt(revision),
    position: BigInt(1000 + revision * 10),
    createdAt: '2026-04-01T00:00:00.000Z',
    metadata: { schemaVersion: 1, ...(actor ? { actor } : {}) },
  };
}

const events: StoredOrderEvent[] = [
  stored(
    0,
    {
      type: 'OrderPlaced',
      data: {
        orderId,
        userId,
        items: [{ productId: userId, sku: 'S', name: 'N', quantity: 1, unitAmount: 900, lineAmount: 900 }],
        totalAmount: 900,
        currency: 'USD',
        paymentMethod: 'STRIPE',
        placedAt: '2026-04-01T10:00:00.000Z',
      },
    },
    { type: 'user', id: userId },
  ),
  stored(1, { type: 'PaymentInitiated', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 900, currency: 'USD', initiatedAt: '2026-04-01T10:01:00.000Z' } }),
  stored(
    2,
    { type: 'PaymentSucceeded', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 900, currency: 'USD', succeededAt: '2026-04-01T10:02:00.000Z' } },
    { type: 'provider', id: 'stripe' },
  ),
  stored(3, { type: 'OrderCancelled', data: { orderId, from: 'PAID', cancelledAt: '2026-04-01T11:00:00.000Z' } }, { type: 'admin', id: 'a-1' }),
  stored(
    4,
    { type: 'RefundRequested', data: { orderId, provider: 'STRIPE', amount: 900, currency: 'USD', requestedAt: '2026-04-01T11:00:00.000Z' } },
    { type: 'admin', id: 'a-1' },
  ),
];

describe('replayOrderEvents', () => {
  it('when replayed to a time, then it folds the events that happened by then and counts the rest', () => {
    const replay = replayOrderEvents(orderId, events, { kind: 'at', at: '2026-04-01T10:30:00.000Z' });
    expect(replay.timeline.map((e) => `${e.statusBefore}->${e.statusAfter} ${e.actor}`)).toEqual([
      `NONE->PENDING user:${userId}`,
      'PENDING->PENDING system',
      'PENDING->PAID provider:stripe',
    ]);
    expect(replay.state).toMatchObject({ status: 'PAID', paymentReference: 'pi_1', paidAmount: 900 });
    expect(replay.revision).toBe(2n);
    expect(replay.laterEvents).toBe(2);
  });

  it('when replayed to the exact time of an event, then that event is included', () => {
    const replay = replayOrderEvents(orderId, events, { kind: 'at', at: '2026-04-01T11:00:00.000Z' });
    expect(replay.state).toMatchObject({ status: 'CANCELLED', refundRequested: true });
    expect(replay.laterEvents).toBe(0);
  });

  it('when replayed to a position, then events past it are left out', () => {
    const replay = replayOrderEvents(orderId, events, { kind: 'position', position: 1015n });
    expect(replay.timeline).toHaveLength(2);
    expect(replay.state.status).toBe('PENDING');
  });

  it('when formatted, then each event is one line with position, time, type, actor and the status change', () => {
    const lines = formatReplay(replayOrderEvents(orderId, events, { kind: 'end' }));
    expect(lines[0]).toBe(`order ${orderId} (stream order-${orderId}) at now`);
    expect(lines[1]).toMatch(/^position\s+rev\s+time\s+event\s+actor\s+status\s+detail$/);
    expect(lines[4]).toMatch(/^1020\s+r2\s+2026-04-01T10:02:00.000Z\s+PaymentSucceeded\s+provider:stripe\s+PENDING -> PAID\s+STRIPE pi_1, 900 USD$/);
    expect(lines).toContain('  status: CANCELLED');
    expect(lines).toContain('  refund requested: yes');
  });
});

describe('parseMoment and parseOrderId', () => {
  it('reads an ISO time without an offset as UTC', () => {
    expect(parseMoment({ at: '2026-04-01T10:30' })).toEqual({ kind: 'at', at: '2026-04-01T10:30:00.000Z' });
    expect(parseMoment({ at: '2026-04-01T12:30:00+02:00' })).toEqual({ kind: 'at', at: '2026-04-01T10:30:00.000Z' });
    expect(parseMoment({ position: '42' })).toEqual({ kind: 'position', position: 42n });
    expect(parseMoment({})).toEqual({ kind: 'end' });
  });

  it('refuses what is not a time, a position or an order id', () => {
    expect(() => parseMoment({ at: 'tomorrow' })).toThrow(CliFailure);
    expect(() => parseMoment({ position: '-1' })).toThrow(CliFailure);
    expect(() => parseOrderId('order-123')).toThrow(CliFailure);
    expect(parseOrderId(`order-${orderId.toUpperCase()}`)).toBe(orderId);
  });
});

import { randomUUID } from 'node:crypto';
import { evolve, initialOrderState, type OrderState } from '../../src/commands/order/orderDecider';
import type { StoredOrderEvent } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';
import { emailKinds, renderEmail, type EmailKind } from '../../src/projections/notifications/emailTemplates';
import { notificationsFor } from '../../src/projections/notifier';

const orderId = randomUUID();
const userId = randomUUID();
const items = [{ productId: randomUUID(), sku: 'SKU-1', name: 'Widget <b>', quantity: 2, unitAmount: 1000, lineAmount: 2000 }];
const t = '2026-01-01T00:00:00.000Z';

const placed: OrderEvent = { type: 'OrderPlaced', data: { orderId, userId, items, totalAmount: 2000, currency: 'USD', paymentMethod: 'MANUAL', placedAt: t } };
const paid: OrderEvent = { type: 'PaymentSucceeded', data: { orderId, provider: 'MANUAL', amount: 2000, currency: 'USD', succeededAt: t } };
const failed: OrderEvent = { type: 'PaymentFailed', data: { orderId, provider: 'MANUAL', reason: 'card declined', failedAt: t } };
const processing: OrderEvent = { type: 'OrderStatusChanged', data: { orderId, from: 'PAID', to: 'PROCESSING', changedAt: t } };
const shipped: OrderEvent = { type: 'OrderStatusChanged', data: { orderId, from: 'PROCESSING', to: 'SHIPPED', changedAt: t } };
const refundRequested: OrderEvent = { type: 'RefundRequested', data: { orderId, provider: 'MANUAL', amount: 2000, currency: 'USD', requestedAt: t } };

let position = 100n;
function stored(event: OrderEvent, revision: bigint): StoredOrderEvent {
  position += 1n;
  return { event, id: randomUUID(), streamId: `order-${orderId}`, revision, position, createdAt: t, metadata: { schemaVersion: 1 } };
}

/** Given the earlier events, the notifications the last one produces. */
function whenApplied(history: OrderEvent[], event: OrderEvent) {
  const before: OrderState = history.reduce(evolve, initialOrderState);
  const record = stored(event, BigInt(history.length));
  return { record, ...notificationsFor(record, before, evolve(before, event)) };
}

describe('notificationsFor', () => {
  test('when an order is placed, then admins get orderCreated, the owner an orderUpdate from null, and an order-placed email is planned', () => {
    const { record, pushes, email } = whenApplied([], placed);
    expect(pushes).toEqual([
      {
        rooms: ['admins'],
        event: 'orderCreated',
        payload: { orderId, userId, status: 'PENDING', totalAmount: 2000, currency: 'USD', placedAt: t, position: record.position.toString() },
      },
      {
        rooms: [`user:${userId}`, `order:${orderId}`],
        event: 'orderUpdate',
        payload: { orderId, status: 'PENDING', previousStatus: null, updatedAt: t, position: record.position.toString() },
      },
    ]);
    expect(email).toEqual({ eventId: record.id, orderId, kind: 'order-placed' });
  });

  test('when a payment succeeds, then owner, order room and admins get orderUpdate and paymentSuccess in one broadcast each', () => {
    const { pushes, email } = whenApplied([placed], paid);
    const rooms = [`user:${userId}`, `order:${orderId}`, 'admins'];
    expect(pushes.map((p) => [p.event, p.rooms])).toEqual([
      ['orderUpdate', rooms],
      ['paymentSuccess', rooms],
    ]);
    expect(pushes[0]!.payload).toMatchObject({ status: 'PAID', previousStatus: 'PENDING' });
    expect(pushes[1]!.payload).toEqual({ orderId, amount: 2000, currency: 'USD' });
    expect(email?.kind).toBe('payment-received');
  });

  test('when a payment fails, then paymentFailed carries the reason as its message', () => {
    const { pushes, email } = whenApplied([placed], failed);
    expect(pushes.find((p) => p.event === 'paymentFailed')?.payload).toEqual({ orderId, message: 'card declined' });
    expect(email?.kind).toBe('payment-failed');
  });

  test('when an order moves to PROCESSING, then it is pushed but no email is planned', () => {
    const { pushes, email } = whenApplied([placed, paid], processing);
    expect(pushes.map((p) => p.event)).toEqual(['orderUpdate']);
    expect(email).toBeUndefined();
  });

  test('when an order ships, then a shipped email is planned', () => {
    expect(whenApplied([placed, paid, processing], shipped).email?.kind).toBe('order-shipped');
  });

  test('when an event leaves the status unchanged (refund requested), then nothing is pushed or emailed', () => {
    const { pushes, email } = whenApplied([placed, paid], refundRequested);
    expect(pushes).toEqual([]);
    expect(email).toBeUndefined();
  });
});

describe('renderEmail', () => {
  const contextFor = (kind: EmailKind) => {
    const event: Record<EmailKind, OrderEvent> = {
      'order-placed': placed,
      'payment-received': paid,
      'payment-failed': failed,
      'order-shipped': shipped,
      'order-delivered': { type: 'OrderStatusChanged', data: { orderId, from: 'SHIPPED', to: 'DELIVERED', changedAt: t } },
      'order-cancelled': { type: 'OrderCancelled', data: { orderId, from: 'PENDING', reason: 'changed <mind>', cancelledAt: t } },
      'order-refunded': { type: 'OrderRefunded', data: { orderId, provider: 'MANUAL', amount: 1500, currency: 'USD', refundedAt: t } },
      'refund-issued': { type: 'RefundSucceeded', data: { orderId, provider: 'MANUAL', amount: 500, currency: 'USD', refundedAmount: 500, refundedAt: t } },
      'return-requested': { type: 'ReturnRequested', data: { orderId, returnId: orderId, lines: [{ productId: orderId, quantity: 1 }], reason: 'too small', requestedAt: t } },
      'return-approved': { type: 'ReturnApproved', data: { orderId, returnId: orderId, approvedAt: t } },
      'return-rejected': { type: 'ReturnRejected', data: { orderId, returnId: orderId, reason: 'worn <twice>', rejectedAt: t } },
      'return-received': { type: 'ReturnReceived', data: { orderId, returnId: orderId, lines: [{ productId: orderId, quantity: 1, damaged: false }], receivedAt: t } },
    };
    return { orderId, items, totalAmount: 2000, currency: 'USD', event: event[kind] };
  };

  test.each(emailKinds)('when a %s email is rendered, then it has a subject naming the order, plain text and HTML', (kind) => {
    const email = renderEmail(kind, contextFor(kind));
    expect(email.subject).toContain(orderId.slice(0, 8));
    expect(email.text).toContain(orderId);
    expect(email.html).toContain(orderId);
    expect(email.html).toMatch(/^<!doctype html>/);
  });

  test('when order values contain markup, then the HTML escapes them and the text keeps them', () => {
    const email = renderEmail('order-placed', contextFor('order-placed'));
    expect(email.html).toContain('Widget &lt;b&gt;');
    expect(email.html).not.toContain('Widget <b>');
    expect(email.text).toContain('2 × Widget <b> — $20.00');
    const cancelled = renderEmail('order-cancelled', contextFor('order-cancelled'));
    expect(cancelled.html).toContain('changed &lt;mind&gt;');
  });

  test('when amounts are rendered, then minor units become the currency format', () => {
    expect(renderEmail('order-refunded', contextFor('order-refunded')).text).toContain('We refunded $15.00');
    expect(renderEmail('payment-failed', contextFor('payment-failed')).text).toContain('did not go through: card declined.');
  });
});

import { randomUUID } from 'node:crypto';
import { encodeOrderEvent, orderStreamId } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';
import type { EventStore } from '../../src/infra/eventstore/eventStore';

/** Whole order lives (placed → paid → processing → shipped → delivered), five events per stream. */
export function orderLife(userId: string, startMs: number): OrderEvent[] {
  const orderId = randomUUID();
  const at = (i: number) => new Date(startMs + i * 1000).toISOString();
  const items = [{ productId: randomUUID(), sku: 'SKU-BENCH', name: 'Bench widget', quantity: 2, unitAmount: 1250, lineAmount: 2500 }];
  return [
    { type: 'OrderPlaced', data: { orderId, userId, items, totalAmount: 2500, currency: 'USD', paymentMethod: 'MANUAL', placedAt: at(0) } },
    { type: 'PaymentSucceeded', data: { orderId, provider: 'MANUAL', amount: 2500, currency: 'USD', succeededAt: at(1) } },
    { type: 'OrderStatusChanged', data: { orderId, from: 'PAID', to: 'PROCESSING', changedAt: at(2) } },
    { type: 'OrderStatusChanged', data: { orderId, from: 'PROCESSING', to: 'SHIPPED', changedAt: at(3) } },
    { type: 'OrderStatusChanged', data: { orderId, from: 'SHIPPED', to: 'DELIVERED', changedAt: at(4) } },
  ];
}

/** Appends `totalEvents` events as five-event order streams from 16 concurrent writers. */
export async function seedOrderEvents(store: EventStore, totalEvents: number, users = 1000): Promise<void> {
  const userIds = Array.from({ length: users }, () => randomUUID());
  const orders = Math.ceil(totalEvents / 5);
  let next = 0;
  const base = Date.parse('2026-01-01T00:00:00Z');
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < orders) {
        const n = next++;
        const life = orderLife(userIds[n % users]!, base + n * 10_000);
        const orderId = life[0]!.data.orderId;
        await store.appendToStream(
          orderStreamId(orderId),
          life.map((e) => encodeOrderEvent(e, randomUUID(), { actor: { type: 'system' } })),
          { expectedRevision: 'no_stream' },
        );
      }
    }),
  );
}

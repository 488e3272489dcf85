import type { Knex } from 'knex';
import { statusAfter } from '../commands/order/orderDecider';
import { occurredAt, type OrderEvent, type OrderStatus } from '../events/orderEvents';
import type { Projection } from './projection';

function detailFor(event: OrderEvent): Record<string, unknown> {
  switch (event.type) {
    case 'OrderPlaced':
      return { totalAmount: event.data.totalAmount, currency: event.data.currency, paymentMethod: event.data.paymentMethod };
    case 'PaymentInitiated':
      return { provider: event.data.provider, providerReference: event.data.providerReference };
    case 'PaymentSucceeded':
      return { provider: event.data.provider, amount: event.data.amount, currency: event.data.currency };
    case 'PaymentFailed':
      return { provider: event.data.provider, reason: event.data.reason };
    case 'OrderStatusChanged':
      return {};
    case 'OrderCancelled':
      return event.data.reason ? { reason: event.data.reason } : {};
    case 'RefundRequested':
      return { provider: event.data.provider, amount: event.data.amount, currency: event.data.currency, ...(event.data.reason ? { reason: event.data.reason } : {}) };
    case 'OrderRefunded':
      return { provider: event.data.provider, amount: event.data.amount, currency: event.data.currency };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

async function lastStatus(trx: Knex.Transaction, table: string, orderId: string): Promise<OrderStatus | undefined> {
  const row = (await trx(table).where({ order_id: orderId }).orderBy('revision', 'desc').first('to_status')) as { to_status: OrderStatus } | undefined;
  return row?.to_status;
}

/** One row per event of an order: what happened, the status before and after, and who caused it. */
export const orderHistoryProjection: Projection = {
  name: 'order_history',
  tables: ['order_history'],
  async apply(trx, events, tableOf = (t) => t) {
    const table = tableOf('order_history');
    const statusInBatch = new Map<string, OrderStatus>();
    for (const stored of events) {
      const { event } = stored;
      const orderId = event.data.orderId;
      const before = event.type === 'OrderPlaced' ? undefined : (statusInBatch.get(orderId) ?? (await lastStatus(trx, table, orderId)));
      const after = statusAfter(before, event);
      statusInBatch.set(orderId, after);
      await trx(table)
        .insert({
          order_id: orderId,
          revision: stored.revision.toString(),
          position: stored.position.toString(),
          event_type: event.type,
          from_status: before ?? null,
          to_status: after,
          actor_type: stored.metadata.actor?.type ?? 'system',
          actor_id: stored.metadata.actor?.id ?? null,
          detail: JSON.stringify(detailFor(event)),
          occurred_at: occurredAt(event),
        })
        .onConflict(['order_id', 'revision'])
        .ignore();
    }
  },
};

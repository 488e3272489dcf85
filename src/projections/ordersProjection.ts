import type { Knex } from 'knex';
import type { StoredOrderEvent } from '../events/codec';
import { occurredAt, type OrderEvent } from '../events/orderEvents';
import type { Projection } from './projection';

type Changes = Record<string, string | number | null>;

/** Columns an event changes on the `orders` row; OrderPlaced inserts the row instead. */
function changesFor(event: Exclude<OrderEvent, { type: 'OrderPlaced' }>): Changes {
  switch (event.type) {
    case 'PaymentInitiated':
      return { status: 'PENDING', payment_status: 'INITIATED', payment_provider: event.data.provider, payment_reference: event.data.providerReference };
    case 'PaymentSucceeded':
      return { status: 'PAID', payment_status: 'SUCCEEDED', payment_provider: event.data.provider, ...(event.data.providerReference ? { payment_reference: event.data.providerReference } : {}) };
    case 'PaymentFailed':
      return { status: 'PAYMENT_FAILED', payment_status: 'FAILED' };
    case 'OrderStatusChanged':
      return { status: event.data.to };
    case 'OrderCancelled':
      return { status: 'CANCELLED' };
    case 'RefundRequested':
      return { payment_status: 'REFUND_PENDING' };
    case 'OrderRefunded':
      return { status: 'REFUNDED', payment_status: 'REFUNDED', refunded_amount: event.data.amount };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

export const ordersProjection: Projection = {
  name: 'orders',
  tables: ['orders'],
  async apply(trx, events, tableOf = (t) => t) {
    const table = tableOf('orders');
    for (const stored of events) {
      const { event } = stored;
      const common = { revision: stored.revision.toString(), position: stored.position.toString(), updated_at: occurredAt(event) };
      if (event.type === 'OrderPlaced') {
        const d = event.data;
        await trx(table)
          .insert({
            id: d.orderId,
            user_id: d.userId,
            status: 'PENDING',
            items: JSON.stringify(d.items),
            total_amount: d.totalAmount,
            currency: d.currency,
            payment_method: d.paymentMethod,
            payment_status: 'PENDING',
            placed_at: d.placedAt,
            ...common,
          })
          .onConflict('id')
          .ignore();
        continue;
      }
      // The revision guard makes a replayed event a no-op.
      await trx(table)
        .where({ id: event.data.orderId })
        .andWhere('revision', '<', stored.revision.toString())
        .update({ ...changesFor(event), ...common });
    }
  },
};

export interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  items: unknown;
  total_amount: string;
  currency: string;
  payment_method: string;
  payment_status: string;
  payment_provider: string | null;
  payment_reference: string | null;
  refunded_amount: string;
  revision: string;
  position: string;
  placed_at: Date;
  updated_at: Date;
}

export type OrdersTable = Knex.QueryBuilder<OrderRow>;

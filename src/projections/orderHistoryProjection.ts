import { statusAfter } from '../commands/order/orderDecider';
import { occurredAt, type OrderEvent, type OrderStatus } from '../events/orderEvents';
import type { StoredOrderEvent } from '../events/codec';
import type { Projection } from './projection';
import { continuingStreams, insertRecordset, type RecordsetColumn } from './recordset';

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
    case 'CustomerDataErased':
      return {};
    case 'OrderCancelled':
      return event.data.reason ? { reason: event.data.reason } : {};
    case 'RefundRequested':
      return {
        provider: event.data.provider,
        amount: event.data.amount,
        currency: event.data.currency,
        ...(event.data.reason ? { reason: event.data.reason } : {}),
        ...(event.data.stray ? { stray: true } : {}),
      };
    case 'OrderRefunded':
      return { provider: event.data.provider, amount: event.data.amount, currency: event.data.currency };
    case 'StrayPaymentRefunded':
      return { provider: event.data.provider, amount: event.data.amount, currency: event.data.currency, paymentReference: event.data.paymentReference };
    case 'PartialRefundRequested':
      return {
        refundId: event.data.refundId,
        provider: event.data.provider,
        amount: event.data.amount,
        currency: event.data.currency,
        reason: event.data.reason,
        ...(event.data.lines ? { lines: event.data.lines } : {}),
        ...(event.data.returnId ? { returnId: event.data.returnId } : {}),
      };
    case 'RefundRetryRequested':
      return { refundId: event.data.refundId, amount: event.data.amount, currency: event.data.currency };
    case 'RefundSucceeded':
      return {
        ...(event.data.refundId ? { refundId: event.data.refundId } : { byProvider: true }),
        provider: event.data.provider,
        amount: event.data.amount,
        currency: event.data.currency,
        refundedAmount: event.data.refundedAmount,
      };
    case 'RefundFailed':
      return { refundId: event.data.refundId, provider: event.data.provider, reason: event.data.reason };
    case 'ReturnRequested':
      return { returnId: event.data.returnId, lines: event.data.lines, reason: event.data.reason };
    case 'ReturnApproved':
      return { returnId: event.data.returnId };
    case 'ReturnRejected':
      return { returnId: event.data.returnId, reason: event.data.reason };
    case 'ReturnReceived':
      return { returnId: event.data.returnId, lines: event.data.lines };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

export interface HistoryRowValues {
  order_id: string;
  revision: string;
  position: string;
  event_type: string;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  actor_type: string;
  actor_id: string | null;
  detail: string;
  occurred_at: string;
}

/** The history row for one event given the order's status before it. Pure; shared with `audit verify`. */
export function historyRow(stored: StoredOrderEvent, before: OrderStatus | undefined): HistoryRowValues {
  const { event } = stored;
  return {
    order_id: event.data.orderId,
    revision: stored.revision.toString(),
    position: stored.position.toString(),
    event_type: event.type,
    from_status: event.type === 'OrderPlaced' ? null : (before ?? null),
    to_status: statusAfter(before, event),
    actor_type: stored.metadata.actor?.type ?? 'system',
    actor_id: stored.metadata.actor?.id ?? null,
    detail: JSON.stringify(detailFor(event)),
    occurred_at: occurredAt(event),
  };
}

const historyColumns: readonly RecordsetColumn<HistoryRowValues>[] = [
  { name: 'order_id', type: 'uuid' },
  { name: 'revision', type: 'bigint' },
  { name: 'position', type: 'bigint' },
  { name: 'event_type', type: 'text' },
  { name: 'from_status', type: 'text' },
  { name: 'to_status', type: 'text' },
  { name: 'actor_type', type: 'text' },
  { name: 'actor_id', type: 'text' },
  { name: 'detail', type: 'jsonb' },
  { name: 'occurred_at', type: 'timestamptz' },
];

/**
 * One row per event of an order: what happened, the status before and after, and who caused it.
 * Only orders continuing from an earlier batch need their last status read; rows already there
 * (a replay) are left as they are.
 */
export const orderHistoryProjection: Projection = {
  name: 'order_history',
  tables: ['order_history'],
  async apply(trx, events, tableOf = (t) => t) {
    const table = tableOf('order_history');
    const continuing = continuingStreams(events, (e) => e.event.data.orderId);
    const status = new Map<string, OrderStatus>();
    if (continuing.length > 0) {
      // One primary-key probe per order, whatever the statistics say: as `distinct on … where
      // order_id in (…)` the planner read the whole table once it had grown past its statistics
      // (a rebuild: two thirds of its database time).
      const last = await trx.raw<{ rows: { order_id: string; to_status: OrderStatus | null }[] }>(
        `select c.order_id, (select h.to_status from ?? h where h.order_id = c.order_id order by h.revision desc limit 1) as to_status
           from unnest(?::uuid[]) as c(order_id)`,
        [table, continuing],
      );
      for (const row of last.rows) if (row.to_status !== null) status.set(row.order_id, row.to_status);
    }
    const rows: HistoryRowValues[] = [];
    for (const stored of events) {
      const orderId = stored.event.data.orderId;
      const row = historyRow(stored, stored.event.type === 'OrderPlaced' ? undefined : status.get(orderId));
      status.set(orderId, row.to_status);
      rows.push(row);
    }
    await insertRecordset(trx, table, historyColumns, rows, () => 'on conflict (order_id, revision) do nothing');
  },
};

import type { Knex } from 'knex';
import type { StoredOrderEvent } from '../events/codec';
import { occurredAt, type OrderEvent } from '../events/orderEvents';
import type { Projection } from './projection';
import { continuingStreams, insertRecordset, type RecordsetColumn } from './recordset';

/** An `orders` row as the projection writes it (amounts and positions as decimal strings). */
export interface OrderRowValues {
  id: string;
  user_id: string;
  status: string;
  items: string;
  total_amount: string;
  currency: string;
  payment_method: string;
  payment_status: string;
  payment_provider: string | null;
  payment_reference: string | null;
  refunded_amount: string;
  /** Payments the order never counted whose refund is requested, and those given back. */
  stray_refunds_pending: number;
  stray_refunds_completed: number;
  /** JSON array of RefundRow: the order's partial refunds and those the provider made on its own. */
  refunds: string;
  /** JSON array of ReturnRow. */
  returns: string;
  /** OrderPlaced's sealed personal data as stored (never clear text); null when none or erased. */
  personal_data: string | null;
  personal_data_erased: boolean;
  revision: string;
  position: string;
  placed_at: string;
  updated_at: string;
}

/** One refund as the order shows it. refundId null: the provider gave the money back on its own. */
export interface RefundRow {
  refundId: string | null;
  amount: number;
  currency: string;
  status: 'REQUESTED' | 'SUCCEEDED' | 'FAILED';
  reason: string;
  lines: { productId: string; quantity: number; amount: number }[];
  returnId: string | null;
  failureReason: string | null;
  requestedAt: string;
  updatedAt: string;
}

/** One return as the order shows it. */
export interface ReturnRow {
  returnId: string;
  status: 'REQUESTED' | 'APPROVED' | 'REJECTED' | 'RECEIVED';
  lines: { productId: string; quantity: number; damaged: boolean | null }[];
  reason: string;
  rejectionReason: string | null;
  requestedAt: string;
  updatedAt: string;
}

function returnsWith(row: OrderRowValues, returnId: string, changes: Partial<ReturnRow>): string {
  const list = JSON.parse(row.returns) as ReturnRow[];
  return JSON.stringify(list.map((r) => (r.returnId === returnId ? { ...r, ...changes } : r)));
}

function refundsWith(row: OrderRowValues, change: (refunds: RefundRow[]) => RefundRow[]): string {
  return JSON.stringify(change(JSON.parse(row.refunds) as RefundRow[]));
}

function refundStatus(refundId: string, changes: Partial<RefundRow>): (list: RefundRow[]) => RefundRow[] {
  return (list) => list.map((r) => (r.refundId === refundId ? { ...r, ...changes } : r));
}

type Changes = Partial<
  Pick<
    OrderRowValues,
    | 'status'
    | 'payment_status'
    | 'payment_provider'
    | 'payment_reference'
    | 'refunded_amount'
    | 'stray_refunds_pending'
    | 'stray_refunds_completed'
    | 'refunds'
    | 'returns'
    | 'personal_data'
    | 'personal_data_erased'
  >
>;

/** Columns an event changes on the `orders` row; OrderPlaced creates the row instead. */
function changesFor(event: Exclude<OrderEvent, { type: 'OrderPlaced' }>, row: OrderRowValues): Changes {
  switch (event.type) {
    case 'PaymentInitiated':
      return { status: 'PENDING', payment_status: 'INITIATED', payment_provider: event.data.provider, payment_reference: event.data.providerReference };
    case 'PaymentSucceeded':
      return {
        status: 'PAID',
        payment_status: 'SUCCEEDED',
        payment_provider: event.data.provider,
        ...(event.data.providerReference ? { payment_reference: event.data.providerReference } : {}),
      };
    case 'PaymentFailed':
      return { status: 'PAYMENT_FAILED', payment_status: 'FAILED' };
    case 'OrderStatusChanged':
      return { status: event.data.to };
    case 'OrderCancelled':
      return { status: 'CANCELLED' };
    case 'RefundRequested':
      // Giving back a payment the order never counted is not a refund of the order's own payment. The
      // projector hands requests stored before the flag existed with the scope the order's fold resolved.
      return event.data.stray ? { stray_refunds_pending: row.stray_refunds_pending + 1 } : { payment_status: 'REFUND_PENDING' };
    case 'OrderRefunded':
      return { status: 'REFUNDED', payment_status: 'REFUNDED', refunded_amount: String(event.data.amount) };
    case 'StrayPaymentRefunded':
      return { stray_refunds_pending: Math.max(0, row.stray_refunds_pending - 1), stray_refunds_completed: row.stray_refunds_completed + 1 };
    case 'PartialRefundRequested': {
      const d = event.data;
      const refund: RefundRow = {
        refundId: d.refundId,
        amount: d.amount,
        currency: d.currency,
        status: 'REQUESTED',
        reason: d.reason,
        lines: d.lines ?? [],
        returnId: d.returnId ?? null,
        failureReason: null,
        requestedAt: d.requestedAt,
        updatedAt: d.requestedAt,
      };
      return { refunds: refundsWith(row, (list) => [...list, refund]) };
    }
    case 'RefundRetryRequested':
      return { refunds: refundsWith(row, refundStatus(event.data.refundId, { status: 'REQUESTED', failureReason: null, updatedAt: event.data.requestedAt })) };
    case 'RefundFailed':
      return { refunds: refundsWith(row, refundStatus(event.data.refundId, { status: 'FAILED', failureReason: event.data.reason, updatedAt: event.data.failedAt })) };
    case 'RefundSucceeded': {
      const d = event.data;
      const byProvider: RefundRow = {
        refundId: null,
        amount: d.amount,
        currency: d.currency,
        status: 'SUCCEEDED',
        reason: 'refunded by the provider',
        lines: [],
        returnId: null,
        failureReason: null,
        requestedAt: d.refundedAt,
        updatedAt: d.refundedAt,
      };
      return {
        payment_status: d.refundedAmount >= Number(row.total_amount) ? 'REFUNDED' : 'PARTIALLY_REFUNDED',
        refunded_amount: String(d.refundedAmount),
        refunds: d.refundId ? refundsWith(row, refundStatus(d.refundId, { status: 'SUCCEEDED', updatedAt: d.refundedAt })) : refundsWith(row, (list) => [...list, byProvider]),
      };
    }
    case 'ReturnRequested': {
      const d = event.data;
      const entry: ReturnRow = {
        returnId: d.returnId,
        status: 'REQUESTED',
        lines: d.lines.map((l) => ({ ...l, damaged: null })),
        reason: d.reason,
        rejectionReason: null,
        requestedAt: d.requestedAt,
        updatedAt: d.requestedAt,
      };
      return { returns: JSON.stringify([...(JSON.parse(row.returns) as ReturnRow[]), entry]) };
    }
    case 'ReturnApproved':
      return { returns: returnsWith(row, event.data.returnId, { status: 'APPROVED', updatedAt: event.data.approvedAt }) };
    case 'ReturnRejected':
      return { returns: returnsWith(row, event.data.returnId, { status: 'REJECTED', rejectionReason: event.data.reason, updatedAt: event.data.rejectedAt }) };
    case 'ReturnReceived':
      return { returns: returnsWith(row, event.data.returnId, { status: 'RECEIVED', lines: event.data.lines, updatedAt: event.data.receivedAt }) };
    case 'CustomerDataErased':
      // The ciphertext can no longer be opened; the read model drops it too.
      return { personal_data: null, personal_data_erased: true };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

/**
 * The row after one event. Pure, so the projector, the rebuild and `audit verify` agree.
 * Events at or below the row's revision change nothing (replays are no-ops).
 */
export function applyToOrderRow(row: OrderRowValues | undefined, stored: StoredOrderEvent): OrderRowValues | undefined {
  const { event } = stored;
  const revision = stored.revision.toString();
  if (row && BigInt(row.revision) >= stored.revision) return row;
  const common = { revision, position: stored.position.toString(), updated_at: occurredAt(event) };
  if (event.type === 'OrderPlaced') {
    if (row) return row;
    const d = event.data;
    return {
      id: d.orderId,
      user_id: d.userId,
      status: 'PENDING',
      items: JSON.stringify(d.items),
      total_amount: String(d.totalAmount),
      currency: d.currency,
      payment_method: d.paymentMethod,
      payment_status: 'PENDING',
      payment_provider: null,
      payment_reference: null,
      refunded_amount: '0',
      stray_refunds_pending: 0,
      stray_refunds_completed: 0,
      refunds: '[]',
      returns: '[]',
      personal_data: d.personalData ?? null,
      personal_data_erased: false,
      placed_at: d.placedAt,
      ...common,
    };
  }
  if (!row) return undefined; // an order stream that does not start with OrderPlaced: nothing to update
  return { ...row, ...changesFor(event, row), ...common };
}

/** The `orders` row a stream's events produce, folded with the projection's own code (undefined without OrderPlaced). */
export function orderRowFromEvents(events: readonly StoredOrderEvent[]): OrderRowValues | undefined {
  return events.reduce<OrderRowValues | undefined>(applyToOrderRow, undefined);
}

interface StoredOrderRow {
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
  stray_refunds_pending: number;
  stray_refunds_completed: number;
  refunds: unknown;
  returns: unknown;
  personal_data: string | null;
  personal_data_erased: boolean;
  revision: string;
  position: string;
  placed_at: Date;
  updated_at: Date;
}

function fromStored(row: StoredOrderRow): OrderRowValues {
  return {
    ...row,
    items: JSON.stringify(row.items),
    refunds: JSON.stringify(row.refunds),
    returns: JSON.stringify(row.returns),
    placed_at: row.placed_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The `orders` columns in the order the bulk upsert writes them. */
const orderColumns: readonly RecordsetColumn<OrderRowValues>[] = [
  { name: 'id', type: 'uuid' },
  { name: 'user_id', type: 'uuid' },
  { name: 'status', type: 'text' },
  { name: 'items', type: 'jsonb' },
  { name: 'total_amount', type: 'bigint' },
  { name: 'currency', type: 'text' },
  { name: 'payment_method', type: 'text' },
  { name: 'payment_status', type: 'text' },
  { name: 'payment_provider', type: 'text' },
  { name: 'payment_reference', type: 'text' },
  { name: 'refunded_amount', type: 'bigint' },
  { name: 'stray_refunds_pending', type: 'integer' },
  { name: 'stray_refunds_completed', type: 'integer' },
  { name: 'refunds', type: 'jsonb' },
  { name: 'returns', type: 'jsonb' },
  { name: 'personal_data', type: 'text' },
  { name: 'personal_data_erased', type: 'boolean' },
  { name: 'revision', type: 'bigint' },
  { name: 'position', type: 'bigint' },
  { name: 'placed_at', type: 'timestamptz' },
  { name: 'updated_at', type: 'timestamptz' },
];

const updatableColumns = [
  'status',
  'payment_status',
  'payment_provider',
  'payment_reference',
  'refunded_amount',
  'stray_refunds_pending',
  'stray_refunds_completed',
  'refunds',
  'returns',
  'personal_data',
  'personal_data_erased',
  'revision',
  'position',
  'updated_at',
] as const;

const upsertClause = (table: string): string =>
  `on conflict (id) do update set ${updatableColumns.map((c) => `"${c}" = excluded."${c}"`).join(', ')} where ${table}.revision < excluded.revision`;

/**
 * Folds a batch in memory and writes each touched order once: one read of the rows the batch
 * continues and one upsert per batch, instead of a statement per event. An order whose stream
 * starts in this batch is folded from nothing: a row it may already have (a replay) folds a prefix
 * of the same events, and the upsert keeps whichever row has the higher revision.
 */
export const ordersProjection: Projection = {
  name: 'orders',
  tables: ['orders'],
  async apply(trx, events, tableOf = (t) => t) {
    const table = tableOf('orders');
    const continuing = continuingStreams(events, (e) => e.event.data.orderId);
    const existing = continuing.length > 0 ? ((await trx(table).whereIn('id', continuing).forUpdate().select('*')) as StoredOrderRow[]) : [];
    const rows = new Map<string, OrderRowValues>(existing.map((row) => [row.id, fromStored(row)]));
    const touched = new Set<string>();
    for (const stored of events) {
      const id = stored.event.data.orderId;
      const before = rows.get(id);
      const after = applyToOrderRow(before, stored);
      if (after && after !== before) {
        rows.set(id, after);
        touched.add(id);
      }
    }
    if (touched.size === 0) return;
    await insertRecordset(
      trx,
      table,
      orderColumns,
      [...touched].map((id) => rows.get(id)!),
      upsertClause,
    );
  },
};

export type OrdersTable = Knex.QueryBuilder<StoredOrderRow>;
export type OrderRow = StoredOrderRow;

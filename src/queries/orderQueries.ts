import type { Knex } from 'knex';
import { z } from 'zod';
import { ValidationError } from '../errors';
import { orderItemSchema, orderStatusSchema, paymentMethodSchema } from '../events/orderEvents';
import type { StoredOrderEvent } from '../events/codec';
import { orderRowFromEvents, type OrderRow, type OrderRowValues } from '../projections/ordersProjection';
import { shippingAddressSchema } from '../commands/privacy/shippingAddress';
import type { DataKeyStore } from '../infra/privacy/dataKeyStore';
import { openPersonalData } from './privacy/revealPersonalData';

export const MAX_PAGE_LIMIT = 100;

export const listOrdersQuerySchema = z
  .object({
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}`).default(10),
    status: orderStatusSchema.optional(),
    userId: z.uuid().optional(),
    cursor: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ListOrdersQuery = z.infer<typeof listOrdersQuerySchema>;

export const refundDtoSchema = z.object({
  refundId: z.uuid().nullable().describe('null: the provider gave the money back on its own (dashboard, dispute)'),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(['REQUESTED', 'SUCCEEDED', 'FAILED']).describe('FAILED: the provider refused; an admin may retry it'),
  reason: z.string(),
  lines: z.array(z.object({ productId: z.uuid(), quantity: z.number().int(), amount: z.number().int() })),
  returnId: z.uuid().nullable(),
  failureReason: z.string().nullable(),
  requestedAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const returnDtoSchema = z.object({
  returnId: z.uuid(),
  status: z.enum(['REQUESTED', 'APPROVED', 'REJECTED', 'RECEIVED']).describe('RECEIVED: the goods are back and their refund is listed in refunds (returnId)'),
  lines: z.array(z.object({ productId: z.uuid(), quantity: z.number().int(), damaged: z.boolean().nullable().describe('null until received') })),
  reason: z.string(),
  rejectionReason: z.string().nullable(),
  requestedAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const orderDtoSchema = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  status: orderStatusSchema,
  items: z.array(orderItemSchema),
  totalAmount: z.number().int(),
  currency: z.string(),
  paymentMethod: paymentMethodSchema,
  paymentStatus: z.enum(['PENDING', 'INITIATED', 'SUCCEEDED', 'FAILED', 'REFUND_PENDING', 'PARTIALLY_REFUNDED', 'REFUNDED']),
  paymentProvider: paymentMethodSchema.nullable(),
  paymentReference: z.string().nullable(),
  refundedAmount: z.number().int().describe("Minor units of the order's own payment given back so far"),
  refunds: z.array(refundDtoSchema).describe('Partial refunds (POST /orders/:id/refunds, returns) and refunds the provider made on its own, oldest first'),
  returns: z.array(returnDtoSchema).describe('Returns the owner requested, oldest first'),
  strayRefunds: z
    .object({
      pending: z.number().int().describe('Refunds requested and not yet confirmed by the provider'),
      completed: z.number().int().describe('Refunds the provider confirmed'),
    })
    .describe("Payments the order never counted (wrong amount, duplicate, after cancellation), given back apart from the order's own payment"),
  personalData: z
    .enum(['NONE', 'PRESENT', 'ERASED'])
    .describe("PRESENT: the order has a shipping address or contact (shown to its owner and admins); ERASED: the customer's data was erased"),
  shippingAddress: shippingAddressSchema.nullable().describe('null when the order has none, or after erasure'),
  contactEmail: z.string().nullable().describe("Where the order's emails go; null: the account's email"),
  revision: z.number().int(),
  position: z.string().describe('Global position of the last event applied to this row (decimal string)'),
  placedAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type OrderDto = z.infer<typeof orderDtoSchema>;

export const orderListSchema = z.object({
  status: z.literal('success'),
  data: z.array(orderDtoSchema),
  meta: z.object({
    total: z.number().int(),
    page: z.number().int(),
    limit: z.number().int(),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page (keyset pagination)'),
  }),
});
export type OrderList = z.infer<typeof orderListSchema>;

export const orderHistoryEntrySchema = z.object({
  revision: z.number().int(),
  position: z.string(),
  eventType: z.string(),
  fromStatus: orderStatusSchema.nullable(),
  toStatus: orderStatusSchema,
  actor: z.object({ type: z.enum(['user', 'admin', 'system', 'provider']), id: z.string().nullable() }),
  detail: z.record(z.string(), z.unknown()),
  occurredAt: z.iso.datetime(),
});
export type OrderHistoryEntry = z.infer<typeof orderHistoryEntrySchema>;

type RowColumns = Omit<OrderRowValues, 'items' | 'refunds' | 'returns' | 'placed_at' | 'updated_at'>;

/** One mapping from `orders` columns to the DTO, whether the row was read from the table or folded from events. */
function dtoOf(row: RowColumns, items: unknown, refunds: unknown, returns: unknown, placedAt: string, updatedAt: string): OrderDto {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status as OrderDto['status'],
    items: items as OrderDto['items'],
    totalAmount: Number(row.total_amount),
    currency: row.currency,
    paymentMethod: row.payment_method as OrderDto['paymentMethod'],
    paymentStatus: row.payment_status as OrderDto['paymentStatus'],
    paymentProvider: row.payment_provider as OrderDto['paymentProvider'],
    paymentReference: row.payment_reference,
    refundedAmount: Number(row.refunded_amount),
    refunds: refunds as OrderDto['refunds'],
    returns: returns as OrderDto['returns'],
    strayRefunds: { pending: row.stray_refunds_pending, completed: row.stray_refunds_completed },
    personalData: row.personal_data_erased ? 'ERASED' : row.personal_data ? 'PRESENT' : 'NONE',
    shippingAddress: null,
    contactEmail: null,
    revision: Number(row.revision),
    position: row.position,
    placedAt,
    updatedAt,
  };
}

export function toOrderDto(row: OrderRow): OrderDto {
  return dtoOf(row, row.items, row.refunds, row.returns, row.placed_at.toISOString(), row.updated_at.toISOString());
}

/**
 * Fills in the orders' personal data, opened now with their customers' keys (sealed values stay
 * sealed in the read model). An order whose key was destroyed reads as ERASED.
 */
export async function revealOrders(keys: DataKeyStore, orders: readonly { dto: OrderDto; sealed: string | null }[]): Promise<OrderDto[]> {
  const opened = await openPersonalData(
    keys,
    orders.map(({ dto, sealed }) => ({ userId: dto.userId, orderId: dto.id, sealed })),
  );
  return orders.map(({ dto }, i) => {
    const data = opened[i];
    if (data === undefined) return dto;
    if (data === 'erased') return { ...dto, personalData: 'ERASED' };
    return { ...dto, shippingAddress: data.shippingAddress ?? null, contactEmail: data.contactEmail ?? null };
  });
}

/**
 * The order as the read model will show it once it has applied these events: the stream folded
 * by the `orders` projection's own code. Commands answer with it when the read model lags.
 */
export async function orderFromEvents(events: readonly StoredOrderEvent[], keys?: DataKeyStore): Promise<OrderDto | undefined> {
  const row = orderRowFromEvents(events);
  if (!row) return undefined;
  // Times come back from PostgreSQL as Dates: normalise the same way ('…:00Z' becomes '…:00.000Z').
  const dto = dtoOf(row, JSON.parse(row.items), JSON.parse(row.refunds), JSON.parse(row.returns), new Date(row.placed_at).toISOString(), new Date(row.updated_at).toISOString());
  return keys ? (await revealOrders(keys, [{ dto, sealed: row.personal_data }]))[0] : dto;
}

interface Cursor {
  placedAt: string;
  id: string;
}

// A cursor names a row this API listed: a placement time between 1970 and 9999 (what a clock can
// have written; PostgreSQL has no year 0) and an order id.
const cursorSchema = z
  .object({
    placedAt: z.iso.datetime().refine((value) => {
      const time = Date.parse(value);
      return Number.isFinite(time) && time >= Date.UTC(1970, 0, 1) && time < Date.UTC(10000, 0, 1);
    }, 'placedAt is out of range'),
    id: z.uuid(),
  })
  .strict();

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    throw new ValidationError('cursor is not one this API issued', undefined, 'INVALID_CURSOR');
  }
}

export interface OrderScope {
  /** Restrict to one user's orders (always set for non-admins). */
  userId?: string;
}

/**
 * Newest first; `cursor` switches from offset to keyset pagination for deep pages. With `keys`, the
 * orders' personal data is opened (callers showing orders to their owner or an admin).
 */
export async function listOrders(knex: Knex, query: ListOrdersQuery, scope: OrderScope, keys?: DataKeyStore): Promise<OrderList> {
  const userId = scope.userId ?? query.userId;
  const filtered = (): Knex.QueryBuilder => {
    const q = knex('orders');
    if (userId) q.where('user_id', userId);
    if (query.status) q.where('status', query.status);
    return q;
  };
  const rowsQuery = filtered()
    .select('*')
    .orderBy([
      { column: 'placed_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(query.limit);
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor);
    rowsQuery.whereRaw('(placed_at, id) < (?::timestamptz, ?::uuid)', [cursor.placedAt, cursor.id]);
  } else {
    rowsQuery.offset((query.page - 1) * query.limit);
  }
  const [rows, countRow] = await Promise.all([
    rowsQuery as Promise<OrderRow[]>,
    filtered().count<{ count: string }[]>({ count: '*' }).first() as Promise<{ count: string } | undefined>,
  ]);
  const dtos = rows.map(toOrderDto);
  const data = keys
    ? await revealOrders(
        keys,
        dtos.map((dto, i) => ({ dto, sealed: rows[i]!.personal_data })),
      )
    : dtos;
  const last = data[data.length - 1];
  return {
    status: 'success',
    data,
    meta: {
      total: Number(countRow?.count ?? 0),
      page: query.cursor ? query.page : query.page,
      limit: query.limit,
      nextCursor: last && data.length === query.limit ? encodeCursor({ placedAt: last.placedAt, id: last.id }) : null,
    },
  };
}

export async function getOrder(knex: Knex, orderId: string, scope: OrderScope, keys?: DataKeyStore): Promise<OrderDto | undefined> {
  const q = knex('orders').where('id', orderId);
  if (scope.userId) q.where('user_id', scope.userId);
  const row = (await q.first()) as OrderRow | undefined;
  if (!row) return undefined;
  const dto = toOrderDto(row);
  return keys ? (await revealOrders(keys, [{ dto, sealed: row.personal_data }]))[0] : dto;
}

interface HistoryRow {
  revision: string;
  position: string;
  event_type: string;
  from_status: string | null;
  to_status: string;
  actor_type: string;
  actor_id: string | null;
  detail: Record<string, unknown>;
  occurred_at: Date;
}

/** The order's transitions oldest first; undefined when the order is not visible in this scope. */
export async function getOrderHistory(knex: Knex, orderId: string, scope: OrderScope): Promise<OrderHistoryEntry[] | undefined> {
  const order = await getOrder(knex, orderId, scope);
  if (!order) return undefined;
  const rows = (await knex('order_history').where('order_id', orderId).orderBy('revision', 'asc')) as HistoryRow[];
  return rows.map((row) => ({
    revision: Number(row.revision),
    position: row.position,
    eventType: row.event_type,
    fromStatus: row.from_status as OrderHistoryEntry['fromStatus'],
    toStatus: row.to_status as OrderHistoryEntry['toStatus'],
    actor: { type: row.actor_type as OrderHistoryEntry['actor']['type'], id: row.actor_id },
    detail: row.detail,
    occurredAt: row.occurred_at.toISOString(),
  }));
}

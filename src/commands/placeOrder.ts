import type { Knex } from 'knex';
import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, ValidationError } from '../errors';
import { orderStreamId, type EncodeContext } from '../events/codec';
import type { OrderItem, PaymentMethod } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';
import type { Logger } from '../infra/logger';
import type { ProductRow } from '../queries/products';
import type { PaymentSession } from '../infra/payments/paymentProvider';
import { ownerOrAdmin } from './order/orderAccess';
import { isAwaitingPayment } from './order/orderDecider';
import { handleOrderCommand, type HandleResult } from './orderCommandHandler';
import type { PaymentDeps } from './payments/paymentDeps';
import type { DataKeyStore } from '../infra/privacy/dataKeyStore';
import { openProfileAddress, sealOrderPersonalData } from './privacy/personalData';
import type { OrderPersonalData } from './privacy/shippingAddress';
import { startPayment } from './payments/startPayment';
import type { ProductLocks } from './stock/productLocks';
import { stockStreamId } from '../events/stockCodec';

/**
 * Buyers of one tracked product race for its stock stream; each lost race means another buyer's
 * reservation landed, so a few attempts end in an order or OUT_OF_STOCK, not a conflict.
 */
const PLACE_ATTEMPTS = 16;

export interface PlacementDeps {
  knex: Knex;
  store: EventStore;
  logger: Logger;
  /** Buyers of one tracked product in this process take turns (see ProductLocks); absent: they race. */
  productLocks?: ProductLocks;
  dataKeys: DataKeyStore;
}

/** The products among these whose stock is tracked (their stock stream exists): one small read each. */
async function trackedProductsOf(store: EventStore, productIds: readonly string[]): Promise<string[]> {
  const found = await Promise.all(productIds.map(async (id) => ((await store.readStream(stockStreamId(id), { maxCount: 1 })).length > 0 ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}

export interface PlaceOrderRequest {
  userId: string;
  items: { productId: string; quantity: number }[];
  paymentMethod: PaymentMethod;
  /** Shipping address and contact; without an address, the profile's default address is used. */
  personalData?: OrderPersonalData;
  /** The client's Idempotency-Key: the same key and body always mean the same order. */
  idempotencyKey: string | undefined;
  /** What the key is bound to (the request body as the client sent it). */
  body: unknown;
  now: string;
  context: EncodeContext;
}

type CatalogRow = Pick<ProductRow, 'id' | 'sku' | 'name' | 'unit_amount' | 'currency' | 'active'> & {
  default_shipping_address?: string | null;
  stock_tracked?: boolean;
};

/**
 * The requested quantities per product (a product named twice is one line). Ids in lower case, as
 * the catalog and the stock streams name them (a uuid's case carries no meaning).
 */
function quantitiesOf(requested: { productId: string; quantity: number }[]): Map<string, number> {
  const quantities = new Map<string, number>();
  for (const item of requested) {
    const productId = item.productId.toLowerCase();
    quantities.set(productId, (quantities.get(productId) ?? 0) + item.quantity);
  }
  return quantities;
}

/** Prices the lines from catalog rows; prices come from the catalog, never from the client. */
function priceFromRows(quantities: Map<string, number>, rows: readonly CatalogRow[]): { items: OrderItem[]; currency: string } {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const missing = [...quantities.keys()].filter((id) => !byId.get(id)?.active);
  if (missing.length > 0) {
    throw new ValidationError(`Unknown or unavailable product(s): ${missing.join(', ')}`, { productIds: missing }, 'PRODUCT_NOT_FOUND');
  }
  const currencies = new Set(rows.map((row) => row.currency));
  if (currencies.size > 1) {
    throw new ValidationError(`All items must share one currency; got ${[...currencies].join(', ')}`, undefined, 'MIXED_CURRENCIES');
  }
  const items: OrderItem[] = [...quantities.entries()].map(([productId, quantity]) => {
    const row = byId.get(productId)!;
    const unitAmount = Number(row.unit_amount);
    return { productId, sku: row.sku, name: row.name, quantity, unitAmount, lineAmount: unitAmount * quantity };
  });
  return { items, currency: rows[0]!.currency };
}

/**
 * What placing an order reads, in one round trip: the catalog rows of the requested products, each
 * carrying the buyer's default shipping address (sealed) and — when the event store lives in this
 * database — whether the product's stock is tracked (its stock stream has events). Otherwise the
 * stock streams are asked, one small read each. No product found means PRODUCT_NOT_FOUND, so losing
 * the address with the rows costs nothing.
 */
async function placementReads(deps: PlacementDeps, userId: string, requested: { productId: string; quantity: number }[]) {
  const { knex, store } = deps;
  const quantities = quantitiesOf(requested);
  const sameDatabase = store.kind === 'postgres';
  // One round trip, its plan cached per connection (see placementFunction.ts).
  const result = (await knex.raw('select * from order_ledger_placement(?, ?::uuid[], ?)', [userId, [...quantities.keys()], sameDatabase]).options({ name: 'ol_placement' })) as {
    rows: CatalogRow[];
  };
  const rows = result.rows;
  const priced = priceFromRows(quantities, rows);
  const productIds = priced.items.map((item) => item.productId);
  const tracked = sameDatabase ? rows.filter((row) => row.stock_tracked === true).map((row) => row.id) : await trackedProductsOf(store, productIds);
  return { ...priced, defaultAddress: rows[0]?.default_shipping_address ?? null, tracked };
}

interface OrderIdReservation {
  orderId: string;
  /** This request bound the key (or needed none): the order id was generated here, so no stream exists yet. */
  fresh: boolean;
}

function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/** Maps an Idempotency-Key to one order id; the same key with another body is refused. */
async function reserveOrderId(knex: Knex, userId: string, key: string | undefined, body: unknown): Promise<OrderIdReservation> {
  const fresh = randomUUID();
  if (key === undefined) return { orderId: fresh, fresh: true };
  const hash = requestHash(body);
  const inserted = (await knex('idempotency_keys')
    .insert({ user_id: userId, key, request_hash: hash, order_id: fresh })
    .onConflict(['user_id', 'key'])
    .ignore()
    .returning('order_id')) as { order_id: string }[];
  if (inserted.length > 0) return { orderId: fresh, fresh: true };
  const existing = (await knex('idempotency_keys').where({ user_id: userId, key }).first()) as { request_hash: string; order_id: string } | undefined;
  if (!existing) throw new ConflictError('IDEMPOTENCY_KEY_IN_FLIGHT', 'A request with this Idempotency-Key is in progress; retry');
  if (existing.request_hash !== hash) {
    throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request body');
  }
  return { orderId: existing.order_id, fresh: false };
}

/**
 * Unbinds a key whose placement stored nothing, so a corrected request may use it again. Only the
 * request that bound the key releases it, and only while the order's stream is still empty.
 */
async function releaseIfNothingStored(deps: PlacementDeps, userId: string, key: string, orderId: string): Promise<void> {
  try {
    const stored = await deps.store.readStream(orderStreamId(orderId), { maxCount: 1 });
    if (stored.length > 0) return;
    await deps.knex('idempotency_keys').where({ user_id: userId, key, order_id: orderId }).del();
  } catch (error) {
    // Kept bound: a retry with the same body then answers for the same order id, which is safe.
    deps.logger.warn({ orderId, err: { code: (error as { code?: unknown }).code } }, 'could not release an Idempotency-Key after a refused order');
  }
}

/** The order's personal data, the profile's default address (sealed, as read) filling in a missing shipping address. */
async function withDefaultAddress(deps: PlacementDeps, userId: string, given: OrderPersonalData | undefined, sealedDefault: string | null): Promise<OrderPersonalData | undefined> {
  if (given?.shippingAddress || !sealedDefault) return given;
  const shippingAddress = openProfileAddress(await deps.dataKeys.keyFor(userId), userId, sealedDefault);
  return { ...given, shippingAddress };
}

/**
 * Places an order: binds the Idempotency-Key to an order id, prices the items from the catalog and
 * lets the decider decide. Whatever refuses the order before anything is stored (catalog, decider,
 * store) releases the key, so the same key with a corrected body is a new attempt, not a reuse.
 */
export async function placeOrder(deps: PlacementDeps, request: PlaceOrderRequest): Promise<HandleResult> {
  const { userId, idempotencyKey: key } = request;
  const { orderId, fresh } = await reserveOrderId(deps.knex, userId, key, request.body);
  try {
    const { items, currency, defaultAddress, tracked } = await placementReads(deps, userId, request.items);
    const personal = await withDefaultAddress(deps, userId, request.personalData, defaultAddress);
    const personalData = personal ? await sealOrderPersonalData(deps.dataKeys, userId, orderId, personal) : undefined;
    const untrackedProducts = new Set(items.map((item) => item.productId).filter((id) => !tracked.includes(id)));
    const place = () =>
      handleOrderCommand(
        deps.store,
        orderId,
        {
          type: 'PlaceOrder',
          data: { orderId, userId, items, currency, paymentMethod: request.paymentMethod, ...(personalData ? { personalData } : {}), now: request.now },
        },
        // A freshly generated id has no stream yet: no need to read it before the first append.
        {
          idempotencySource: `place-order:${orderId}`,
          context: request.context,
          newStream: fresh,
          maxAttempts: PLACE_ATTEMPTS,
          untrackedProducts,
        },
      );
    const locks = deps.productLocks;
    return await (!locks || tracked.length === 0 ? place() : locks.withLocks(tracked, place));
  } catch (error) {
    if (key !== undefined && fresh) await releaseIfNothingStored(deps, userId, key, orderId);
    throw error;
  }
}

/**
 * POST /orders: checks the method is configured (503 naming what is missing, before anything is
 * stored), places the order and, for an online method, starts the provider's payment on the stream
 * the placement returned (no read). If the provider fails, the order stays and is retryable; the
 * error says so. A replayed Idempotency-Key whose order is no longer awaiting payment answers the
 * order as it is.
 */
export async function placeOrderAndStartPayment(
  deps: PlacementDeps & { payments: PaymentDeps },
  request: PlaceOrderRequest,
): Promise<{ result: HandleResult; session?: PaymentSession }> {
  deps.payments.providers.assertConfigured(request.paymentMethod);
  const placed = await placeOrder(deps, request);
  ownerOrAdmin({ id: request.userId, role: 'user' }, placed.orderId)(placed.state);
  if (request.paymentMethod === 'MANUAL' || !isAwaitingPayment(placed.state)) return { result: placed };
  return startPayment(deps.payments, placed.orderId, { context: request.context, loaded: placed.stream });
}

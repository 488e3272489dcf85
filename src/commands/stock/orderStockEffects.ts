import type { OrderEvent, OrderItem, OrderStatus } from '../../events/orderEvents';
import { encodeStockEvent, stockStreamId } from '../../events/stockCodec';
import type { StockEvent } from '../../events/stockEvents';
import type { EventStore, StreamAppend } from '../../infra/eventstore/eventStore';
import { committedRefunds, type OrderState } from '../order/orderDecider';
import type { OrderStream } from '../order/orderStream';
import { decideStock, evolveStock, type StockCommand, type StockState } from './stockDecider';
import { OutOfStockError, type StockShortfall } from './stockErrors';
import { expectedRevisionOf, loadStock } from './stockStream';

/**
 * What an order's new events do to the stock of its lines, as appends to the `stock-<productId>`
 * streams that go into the same atomic multi-stream append as the order's events:
 * - OrderPlaced reserves every tracked line (all short lines refused at once: OUT_OF_STOCK);
 * - PaymentSucceeded commits the reservation;
 * - OrderCancelled (by a user, an admin, or expiry) releases it;
 * - a refund of the order's own payment before shipping puts committed units back on hand: a line
 *   refund its lines' units, a full refund (or an amount that is all the rest of the payment) the
 *   units line refunds have not put back yet, any other amount none;
 * - a received return puts its non-damaged units back on hand.
 * Untracked products have no stock stream and are left alone. Reads only the streams it may change.
 */

/** Paid but not yet shipped: the goods are still on the shelf, so a refund puts them back. */
const beforeShipping: ReadonlySet<OrderStatus> = new Set(['PAID', 'PROCESSING']);

function linesOf(items: readonly OrderItem[]): Map<string, number> {
  const lines = new Map<string, number>();
  for (const item of items) lines.set(item.productId, (lines.get(item.productId) ?? 0) + item.quantity);
  return lines;
}

function placedItems(stream: OrderStream, events: readonly OrderEvent[]): readonly OrderItem[] {
  for (const event of events) if (event.type === 'OrderPlaced') return event.data.items;
  for (const stored of stream.events) if (stored.event.type === 'OrderPlaced') return stored.event.data.items;
  return [];
}

/** Units of `productId` that line refunds already gave back (each put its units back when requested). */
function unitsRefundedByLines(before: OrderState, productId: string): number {
  if (before.status === 'NONE') return 0;
  return before.refunds
    .flatMap((refund) => refund.lines)
    .filter((line) => line.productId === productId)
    .reduce((sum, line) => sum + line.quantity, 0);
}

/** Units of `productId` in `lines`, however many lines name it. */
function unitsIn(lines: readonly { productId: string; quantity: number }[] | undefined, productId: string): number {
  return (lines ?? []).filter((line) => line.productId === productId).reduce((sum, line) => sum + line.quantity, 0);
}

const returnStock = (orderId: string, quantity: number, now: string): StockCommand | undefined =>
  quantity > 0 ? { type: 'ReturnStock', data: { orderId, quantity, now } } : undefined;

/** The stock command one order event implies for one of its lines, `quantity` units as ordered (undefined: none). */
function stockCommandFor(event: OrderEvent, before: OrderState, productId: string, quantity: number): StockCommand | undefined {
  switch (event.type) {
    case 'OrderPlaced':
      return { type: 'ReserveStock', data: { productId, orderId: event.data.orderId, quantity, now: event.data.placedAt } };
    case 'PaymentSucceeded':
      return { type: 'CommitStock', data: { orderId: event.data.orderId, now: event.data.succeededAt } };
    case 'OrderCancelled':
      return { type: 'ReleaseStock', data: { orderId: event.data.orderId, reason: event.data.reason ?? 'order cancelled', now: event.data.cancelledAt } };
    case 'RefundRequested':
      // The rest of the order: units that line refunds already put back are not put back twice.
      if (event.data.stray === true || before.status === 'NONE' || !beforeShipping.has(before.status)) return undefined;
      return returnStock(event.data.orderId, quantity - unitsRefundedByLines(before, productId), event.data.requestedAt);
    case 'PartialRefundRequested': {
      // A return's refund puts nothing back here: its goods come back with ReturnReceived.
      if (before.status === 'NONE' || !beforeShipping.has(before.status) || event.data.returnId !== undefined) return undefined;
      const { orderId, lines, amount, requestedAt } = event.data;
      if (lines) return returnStock(orderId, unitsIn(lines, productId), requestedAt);
      // An amount gives back money, not goods (a discount, a late delivery), unless it is all that is
      // left of the payment (a full refund after partial ones): then the units not yet back return.
      if (amount < before.paidAmount - committedRefunds(before)) return undefined;
      return returnStock(orderId, quantity - unitsRefundedByLines(before, productId), requestedAt);
    }
    case 'ReturnReceived':
      // Damaged goods are refunded but not sold again.
      return returnStock(
        event.data.orderId,
        unitsIn(
          event.data.lines.filter((line) => !line.damaged),
          productId,
        ),
        event.data.receivedAt,
      );
    case 'PaymentInitiated':
    case 'PaymentFailed':
    case 'OrderStatusChanged':
    case 'OrderRefunded':
    case 'StrayPaymentRefunded':
    case 'RefundRetryRequested':
    case 'RefundSucceeded':
    case 'RefundFailed':
    case 'ReturnRequested':
    case 'ReturnApproved':
    case 'ReturnRejected':
    case 'CustomerDataErased':
      return undefined;
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

export interface StockEffects {
  appends: StreamAppend[];
  events: StockEvent[];
}

/**
 * The stock appends for `events` decided on `stream`. `eventId(index)` names the index-th stock
 * event (deterministic when the order command is, so a retried command is a retried append).
 */
export async function stockEffectsOf(
  store: EventStore,
  stream: OrderStream,
  events: readonly OrderEvent[],
  eventId: (index: number) => string,
  context: Parameters<typeof encodeStockEvent>[2],
  /** Products the caller has just found without a stock stream: not read again. */
  untracked: ReadonlySet<string> = new Set(),
): Promise<StockEffects> {
  const before = stream.state;
  const lines = linesOf(placedItems(stream, events));
  const moves = [...lines].some(([productId, quantity]) => events.some((event) => stockCommandFor(event, before, productId, quantity) !== undefined));
  if (!moves) return { appends: [], events: [] };
  const appends: StreamAppend[] = [];
  const all: StockEvent[] = [];
  const shortfalls: StockShortfall[] = [];
  const loaded = await Promise.all([...lines.keys()].filter((productId) => !untracked.has(productId)).map((productId) => loadStock(store, productId)));
  for (const stock of loaded) {
    if (!stock.state.tracked) continue;
    const quantity = lines.get(stock.productId)!;
    let state: StockState = stock.state;
    const decided: StockEvent[] = [];
    try {
      for (const event of events) {
        const command = stockCommandFor(event, before, stock.productId, quantity);
        if (!command) continue;
        const next = decideStock(command, state);
        decided.push(...next);
        // Each decision sees the one before it (an admin's cancel of a paid order: release, then return).
        state = next.reduce(evolveStock, state);
      }
    } catch (error) {
      if (error instanceof OutOfStockError) {
        shortfalls.push(...error.shortfalls);
        continue;
      }
      throw error;
    }
    if (decided.length === 0) continue;
    const encoded = decided.map((event, index) => encodeStockEvent(event, eventId(all.length + index), context));
    all.push(...decided);
    appends.push({ streamId: stockStreamId(stock.productId), events: encoded, expectedRevision: expectedRevisionOf(stock) });
  }
  if (shortfalls.length > 0) throw new OutOfStockError(shortfalls);
  return { appends, events: all };
}

import { decodeOrderEvent, isOrderStream, orderStreamId, type StoredOrderEvent } from '../../events/codec';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/eventStore';
import { evolve, initialOrderState, refundIsStray, type OrderState } from './orderDecider';

/**
 * The one way an order's stream becomes its state: read (paged), decode, fold with the decider's
 * `evolve`. The command handler, payments, the notifier, the email job, the timeline and the audit
 * CLI all go through `loadOrder` / `foldOrderEvents`, so they cannot disagree.
 */

/** An order's stream folded: its state, where the stream stands, and the events folded. */
export interface OrderStream {
  orderId: string;
  state: OrderState;
  /** Revision of the last folded event; -1n when the stream does not exist. */
  revision: bigint;
  /** Global position of the last folded event. */
  position: bigint | undefined;
  /**
   * The events folded, in revision order. A RefundRequested stored before v3 carries the refund
   * scope (`stray`) the fold resolved for it, so readers never infer it again.
   */
  events: readonly StoredOrderEvent[];
}

/** One folded event with the state before and after it (the audit timeline's steps). */
export interface FoldStep {
  stored: StoredOrderEvent;
  before: OrderState;
  after: OrderState;
}

export interface FoldOptions {
  /** Folds while this accepts events; the first one refused ends the fold (the rest is counted, not folded). */
  include?: (stored: StoredOrderEvent) => boolean;
  /** Sees each step as it is folded. */
  onStep?: (step: FoldStep) => void;
}

export interface FoldedOrder extends OrderStream {
  /** Events after the ones folded (refused by `include`). */
  laterEvents: number;
}

/**
 * RefundRequested before v3 says nothing about which money it gives back; the state before it
 * does. Resolved here, once, with the decider's own rule.
 */
function withRefundScope(stored: StoredOrderEvent, before: OrderState): StoredOrderEvent {
  const { event } = stored;
  if (event.type !== 'RefundRequested' || event.data.stray !== undefined || before.status === 'NONE') return stored;
  return { ...stored, event: { type: 'RefundRequested', data: { ...event.data, stray: refundIsStray(before, event.data) } } };
}

/** Folds decoded events in stream order. Pure. */
export function foldOrderEvents(orderId: string, events: readonly StoredOrderEvent[], options: FoldOptions = {}): FoldedOrder {
  let state: OrderState = initialOrderState;
  const folded: StoredOrderEvent[] = [];
  for (const original of events) {
    if (options.include && !options.include(original)) break;
    const stored = withRefundScope(original, state);
    const before = state;
    state = evolve(state, stored.event);
    folded.push(stored);
    options.onStep?.({ stored, before, after: state });
  }
  const last = folded[folded.length - 1];
  return { orderId, state, revision: last ? last.revision : -1n, position: last?.position, events: folded, laterEvents: events.length - folded.length };
}

const STREAM_PAGE = 1000;

export interface LoadOptions extends FoldOptions {
  /** Read at most this many events from the start (the state before revision `maxCount`). */
  maxCount?: number;
  /** Read up to and including the event with this id. */
  throughEventId?: string;
}

/**
 * Reads an order's stream from the event store (empty when it does not exist) and folds it. Pages end
 * short at the stream's end and each moves fromRevision forward, so the read is bounded.
 */
export async function loadOrder(store: EventStore, orderId: string, options: LoadOptions = {}): Promise<FoldedOrder> {
  const streamId = orderStreamId(orderId);
  const events: StoredOrderEvent[] = [];
  const limit = options.maxCount ?? Number.POSITIVE_INFINITY;
  for (let from = 0n; events.length < limit;) {
    const maxCount = Math.min(STREAM_PAGE, limit - events.length);
    const page = await store.readStream(streamId, { fromRevision: from, maxCount });
    let through = false;
    for (const record of page) {
      events.push(decodeOrderEvent(record));
      if (record.id === options.throughEventId) {
        through = true;
        break;
      }
    }
    if (through || page.length < maxCount) break;
    from = page[page.length - 1]!.revision + 1n;
  }
  return foldOrderEvents(orderId, events, options);
}

export function hasEvent(stream: OrderStream, eventId: string): boolean {
  return stream.events.some((stored) => stored.id === eventId);
}

/** The stream of an order that does not exist yet. */
export function emptyOrderStream(orderId: string): OrderStream {
  return { orderId, state: initialOrderState, revision: -1n, position: undefined, events: [] };
}

/**
 * RefundRequested events stored before v3, as the fold resolves them: a subscriber reading $all sees
 * one event at a time, so it asks the order's stream. Only such legacy events cost a read.
 */
export async function resolveRefundScopes(store: EventStore, events: StoredOrderEvent[]): Promise<StoredOrderEvent[]> {
  const legacy = events.filter((stored) => stored.event.type === 'RefundRequested' && stored.event.data.stray === undefined);
  if (legacy.length === 0) return events;
  const resolved = new Map<string, StoredOrderEvent>();
  for (const stored of legacy) {
    const folded = await loadOrder(store, stored.event.data.orderId, { throughEventId: stored.id });
    const found = folded.events.find((e) => e.id === stored.id);
    if (found) resolved.set(stored.id, found);
  }
  return events.map((stored) => resolved.get(stored.id) ?? stored);
}

/**
 * The order events among records read from $all, decoded, with every refund's scope resolved: what
 * the projector and the CLI's rebuild and verification hand the read models.
 */
export async function decodeOrderRecords(store: EventStore, records: readonly RecordedEvent[]): Promise<StoredOrderEvent[]> {
  const decoded = records.filter((record) => isOrderStream(record.streamId)).map(decodeOrderEvent);
  return resolveRefundScopes(store, decoded);
}

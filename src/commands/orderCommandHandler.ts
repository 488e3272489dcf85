import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { AppError, ConflictError } from '../errors';
import { encodeOrderEvent, orderStreamId, type EncodeContext, type StoredOrderEvent } from '../events/codec';
import type { OrderEvent } from '../events/orderEvents';
import { WrongExpectedVersionError, type EventStore } from '../infra/eventstore/eventStore';
import { decide, evolve, type OrderCommand, type OrderState } from './order/orderDecider';
import { sameValue } from '../events/sameValue';
import { emptyOrderStream, hasEvent, loadOrder, type OrderStream } from './order/orderStream';
import { OrderNotFoundError } from './order/orderErrors';
import { stockEffectsOf } from './stock/orderStockEffects';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class StaleRevisionError extends AppError {
  constructor(expected: bigint, actual: bigint | 'no_stream') {
    super('precondition_failed', 'REVISION_MISMATCH', `Order is at revision ${String(actual)}, not ${expected}`, {
      expected: expected.toString(),
      actual: String(actual),
    });
  }
}

export class ConcurrencyConflictError extends ConflictError {
  constructor(streamId: string, attempts: number) {
    super('CONCURRENCY_CONFLICT', `Stream ${streamId} kept changing; gave up after ${attempts} attempts`);
  }
}

const EVENT_ID_NAMESPACE = '6f1c1a52-4f7e-4b3a-9a53-0c2f8e5d7b11';

/** Deterministic event ids for commands caused by an external message (a webhook's event id). */
export function deterministicEventId(source: string, index: number): string {
  return uuidv5(`${source}#${index}`, EVENT_ID_NAMESPACE);
}

export interface HandleOptions {
  /** Optimistic check from the caller (If-Match): fail with 412 instead of retrying. */
  expectedRevision?: bigint;
  /** Makes the append idempotent: the same source always yields the same event ids. */
  idempotencySource?: string;
  context?: EncodeContext;
  maxAttempts?: number;
  /**
   * Called with the folded state before anything is decided (on every attempt): throws to refuse,
   * e.g. OrderNotFoundError for a caller who may not see the order. So a route reads the stream once.
   */
  authorize?: (state: OrderState) => void;
  /**
   * The stream as the caller has just read (or written) it: the first attempt decides on it without
   * reading again. A concurrent writer makes that append fail; the next attempt reads the stream.
   */
  loaded?: OrderStream;
  /**
   * The caller has just generated this order's id, so its stream cannot exist yet: the first
   * attempt decides on the empty state without reading the stream and appends expecting no stream.
   * Should the stream exist after all, that append fails and the next attempt loads it as usual.
   */
  newStream?: boolean;
  /**
   * Products the caller has just found untracked (no stock stream): the first attempt does not read
   * their stock streams again. Later attempts read every line's stream.
   */
  untrackedProducts?: ReadonlySet<string>;
}

export interface HandleResult {
  orderId: string;
  /** The events this command appended (none when unchanged). */
  events: OrderEvent[];
  state: OrderState;
  /** Stream revision after the command (-1n when the stream does not exist). */
  revision: bigint;
  /** Global position of the last appended event; of the stream's last event when nothing was appended. */
  position: bigint | undefined;
  /** True when the command was already applied (same idempotency source) or decided no change. */
  unchanged: boolean;
  /**
   * The stream after the command, as the handler knows it without reading it again: the events it
   * read, then those it appended. Appended events share the append's position (that of the last
   * one); their revisions are exact. Enough to build the order the projections will show, or to
   * decide the next command on.
   */
  stream: OrderStream;
}

/** A loaded stream shaped like the result of a command that appended nothing. */
export function unchangedResult(stream: OrderStream): HandleResult {
  return { orderId: stream.orderId, events: [], state: stream.state, revision: stream.revision, position: stream.position, unchanged: true, stream };
}

/** Whether the stream holds these events with these ids exactly as decided (a store that cannot tell a retry from a write). */
function storedAsDecided(stream: OrderStream, encoded: ReadonlyArray<{ id: string }>, events: readonly OrderEvent[]): boolean {
  return encoded.every(({ id }, index) => {
    const stored = stream.events.find((candidate) => candidate.id === id)?.event;
    return stored !== undefined && stored.type === events[index]!.type && sameValue(stored.data, events[index]!.data);
  });
}

/**
 * Loads the order's stream, folds it, lets `authorize` refuse, decides, and appends with the revision
 * it read. A concurrent writer makes the append fail; it then reloads and decides again, a bounded
 * number of times.
 */
export async function handleOrderCommand(store: EventStore, orderId: string, command: OrderCommand, options: HandleOptions = {}): Promise<HandleResult> {
  const streamId = orderStreamId(orderId);
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    let stream: OrderStream;
    if (attempt === 1 && options.loaded) stream = options.loaded;
    else if (attempt === 1 && options.newStream === true && options.expectedRevision === undefined) stream = emptyOrderStream(orderId);
    else stream = await loadOrder(store, orderId);
    options.authorize?.(stream.state);
    if (options.expectedRevision !== undefined && options.expectedRevision !== stream.revision) {
      throw new StaleRevisionError(options.expectedRevision, stream.revision === -1n ? 'no_stream' : stream.revision);
    }
    const source = options.idempotencySource;
    if (source && hasEvent(stream, deterministicEventId(source, 0))) return unchangedResult(stream);
    if (command.type !== 'PlaceOrder' && stream.state.status === 'NONE') throw new OrderNotFoundError(orderId);
    const events = decide(command, stream.state);
    if (events.length === 0) return unchangedResult(stream);
    const encoded = events.map((event, index) => encodeOrderEvent(event, source ? deterministicEventId(source, index) : randomUUID(), options.context));
    // Stock moves with the order in one atomic append (OUT_OF_STOCK refuses before anything is written).
    const stock = await stockEffectsOf(
      store,
      stream,
      events,
      (index) => (source ? deterministicEventId(`${source}:stock`, index) : randomUUID()),
      options.context,
      attempt === 1 ? options.untrackedProducts : undefined,
    );
    const expectedRevision = stream.revision === -1n ? 'no_stream' : stream.revision;
    try {
      const result =
        stock.appends.length === 0
          ? await store.appendToStream(streamId, encoded, { expectedRevision })
          : await store.appendToStreams([{ streamId, events: encoded, expectedRevision }, ...stock.appends]).then((r) => ({
              nextRevision: r.streams[0]!.nextRevision,
              position: r.position,
              ...(r.written !== undefined ? { written: r.written } : {}),
            }));
      // Deterministic ids: the store may have found them stored already, by another writer that
      // decided the same command first with its own clock (the refund reactor and the admin's
      // refund, a webhook and its redelivery). Answer with what is stored, not with what this call decided.
      if (source && result.written !== true) {
        const stored = await loadOrder(store, orderId);
        if (result.written === false || !storedAsDecided(stored, encoded, events)) return unchangedResult(stored);
      }
      const appendedAt = new Date().toISOString();
      const appended: StoredOrderEvent[] = events.map((event, index) => ({
        event,
        id: encoded[index]!.id,
        streamId,
        revision: result.nextRevision - BigInt(events.length - 1 - index),
        position: result.position,
        createdAt: appendedAt,
        metadata: encoded[index]!.metadata,
      }));
      const state = events.reduce(evolve, stream.state);
      return {
        orderId,
        events,
        state,
        revision: result.nextRevision,
        position: result.position,
        unchanged: false,
        stream: { orderId, state, revision: result.nextRevision, position: result.position, events: [...stream.events, ...appended] },
      };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (options.expectedRevision !== undefined) throw new StaleRevisionError(options.expectedRevision, error.actual);
      if (attempt >= maxAttempts) throw new ConcurrencyConflictError(stock.appends.length === 0 ? streamId : error.streamId, attempt);
      // Buyers of the same product collide on its stock stream: a short random pause spreads their retries.
      if (stock.appends.length > 0) await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
  }
}

import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { AppError, ConflictError } from '../errors';
import { decodeOrderEvent, encodeOrderEvent, orderStreamId, type EncodeContext, type StoredOrderEvent } from '../events/codec';
import type { OrderEvent } from '../events/orderEvents';
import { WrongExpectedVersionError, type EventStore } from '../infra/eventstore/eventStore';
import { decide, evolve, initialOrderState, type OrderCommand, type OrderState } from './order/orderDecider';
import { OrderNotFoundError } from './order/orderErrors';

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
   * The caller has just generated this order's id, so its stream cannot exist yet: the first
   * attempt decides on the empty state without reading the stream and appends expecting no stream.
   * Should the stream exist after all, that append fails and the next attempt loads it as usual.
   */
  newStream?: boolean;
}

export interface HandleResult {
  orderId: string;
  events: OrderEvent[];
  state: OrderState;
  /** Stream revision after the command (-1n when the stream does not exist). */
  revision: bigint;
  /** Global position of the last appended event; of the stream's last event when nothing was appended. */
  position: bigint | undefined;
  /** True when the command was already applied (same idempotency source) or decided no change. */
  unchanged: boolean;
  /**
   * The whole stream after the command, as the handler knows it without reading it again: the
   * events it read, then those it appended. Appended events share the append's position (that of
   * the last one); their revisions are exact. Enough to build the order the projections will show.
   */
  stream: readonly StoredOrderEvent[];
}

export interface OrderStreamSnapshot {
  state: OrderState;
  revision: bigint;
  position: bigint | undefined;
  eventIds: Set<string>;
  events: StoredOrderEvent[];
}

export async function loadOrder(store: EventStore, orderId: string): Promise<OrderStreamSnapshot> {
  const recorded = await store.readStream(orderStreamId(orderId));
  let state = initialOrderState;
  const eventIds = new Set<string>();
  const events: StoredOrderEvent[] = [];
  for (const record of recorded) {
    const stored = decodeOrderEvent(record);
    state = evolve(state, stored.event);
    eventIds.add(record.id);
    events.push(stored);
  }
  const last = recorded[recorded.length - 1];
  return { state, revision: last ? last.revision : -1n, position: last?.position, eventIds, events };
}

/** A loaded stream shaped like the result of a command that appended nothing. */
export function unchangedResult(orderId: string, snapshot: OrderStreamSnapshot): HandleResult {
  return {
    orderId,
    events: [],
    state: snapshot.state,
    revision: snapshot.revision,
    position: snapshot.position,
    unchanged: true,
    stream: snapshot.events,
  };
}

/**
 * Loads the order's stream, folds it, decides, and appends with the revision it read.
 * A concurrent writer makes the append fail; it then reloads and decides again, a bounded number of times.
 */
export async function handleOrderCommand(
  store: EventStore,
  orderId: string,
  command: OrderCommand,
  options: HandleOptions = {},
): Promise<HandleResult> {
  const streamId = orderStreamId(orderId);
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const assumeNew = attempt === 1 && options.newStream === true && options.expectedRevision === undefined;
    const snapshot: OrderStreamSnapshot = assumeNew
      ? { state: initialOrderState, revision: -1n, position: undefined, eventIds: new Set(), events: [] }
      : await loadOrder(store, orderId);
    if (options.expectedRevision !== undefined && options.expectedRevision !== snapshot.revision) {
      throw new StaleRevisionError(options.expectedRevision, snapshot.revision === -1n ? 'no_stream' : snapshot.revision);
    }
    const unchanged = (): HandleResult => unchangedResult(orderId, snapshot);
    if (options.idempotencySource && snapshot.eventIds.has(deterministicEventId(options.idempotencySource, 0))) {
      return unchanged();
    }
    if (command.type !== 'PlaceOrder' && snapshot.state.status === 'NONE') throw new OrderNotFoundError(orderId);
    const events = decide(command, snapshot.state);
    if (events.length === 0) return unchanged();
    const source = options.idempotencySource;
    const encoded = events.map((event, index) =>
      encodeOrderEvent(event, source ? deterministicEventId(source, index) : randomUUID(), options.context),
    );
    try {
      const result = await store.appendToStream(streamId, encoded, {
        expectedRevision: snapshot.revision === -1n ? 'no_stream' : snapshot.revision,
      });
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
      return {
        orderId,
        events,
        state: events.reduce(evolve, snapshot.state),
        revision: result.nextRevision,
        position: result.position,
        unchanged: false,
        stream: [...snapshot.events, ...appended],
      };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (options.expectedRevision !== undefined) throw new StaleRevisionError(options.expectedRevision, error.actual);
      if (attempt >= maxAttempts) throw new ConcurrencyConflictError(streamId, attempt);
    }
  }
}

import type { SnapshotStore } from './snapshotStore';

/**
 * The event-store port. Shaped after EventStoreDB so both adapters (PostgreSQL, EventStoreDB)
 * keep the same semantics and pass the same contract suite (test/eventstore/eventStoreContract.ts).
 *
 * - Revisions are per stream and start at 0. Positions are global, unique, and increase in the
 *   order `readAll`/`subscribeToAll` deliver events; treat them as opaque bigints.
 * - `appendToStream` is atomic: all events or none.
 * - Re-appending events whose ids are already stored at the place the expected revision names is a
 *   no-op that returns the original result (webhook retries rely on this).
 * - `appendToStreams` is the same across several streams at once; see its doc comment.
 */

export type ExpectedRevision = 'no_stream' | 'any' | bigint;

export interface EventData {
  /** UUID; deterministic ids make retried appends idempotent. */
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export interface RecordedEvent {
  id: string;
  streamId: string;
  type: string;
  revision: bigint;
  position: bigint;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** UTC ISO-8601 time the store recorded the event. */
  createdAt: string;
}

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  nextRevision: bigint;
  /** Global position of the last appended event. */
  position: bigint;
  /**
   * Whether this call wrote the events: false when they were a retry of events already stored
   * (which may carry other data than this call's: another writer with the same deterministic ids
   * and its own clock). Absent when the store cannot tell (KurrentDB answers a retry as a write).
   */
  written?: boolean;
}

/** One stream's part of an `appendToStreams` call. */
export interface StreamAppend {
  streamId: string;
  /** At least one. */
  events: EventData[];
  expectedRevision: ExpectedRevision;
}

export interface StreamsAppendResult {
  /** One entry per requested stream, in request order: the revision of its last event now. */
  streams: Array<{ streamId: string; nextRevision: bigint }>;
  /** Global position of the last event of the whole append (the last event of the last stream). */
  position: bigint;
  /**
   * Whether this call wrote the events: false when they were a retry of events already stored
   * (which may carry other data than this call's: another writer with the same deterministic ids
   * and its own clock). Absent when the store cannot tell (KurrentDB answers a retry as a write).
   */
  written?: boolean;
}

export interface ReadAllOptions {
  /** Exclusive lower bound; omit to read from the start. */
  after?: bigint;
  limit: number;
}

export interface SubscribeOptions {
  /** Exclusive lower bound; omit to start from the beginning of $all. */
  after?: bigint;
  /** Largest batch handed to the consumer at once. */
  maxBatchSize?: number;
}

/**
 * Delivers every event after `after` in position order, at least once, in batches.
 * Iteration ends when `close()` is called; errors from the store surface from the iterator.
 */
export interface Subscription extends AsyncIterable<RecordedEvent[]> {
  close(): Promise<void>;
}

export interface EventStore {
  readonly kind: 'postgres' | 'esdb' | 'memory';
  /**
   * Snapshots of this store's streams folded (see snapshotStore.ts): kept where the store can keep
   * them cheaply, checked against the stream by every reader, never needed for a correct fold.
   */
  readonly snapshots: SnapshotStore;
  appendToStream(streamId: string, events: EventData[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /**
   * Appends to several streams in one atomic commit: every event of every stream, or nothing.
   *
   * - Input: at least one stream; each stream at most once (ids compared case-insensitively, as
   *   KurrentDB does); each with at least one event; no event id twice in the call; event types of
   *   letters, digits and `_ . $ : -` (KurrentDB's rule for record names). A violation throws a
   *   RangeError before anything is sent (`validateStreamAppends`).
   * - Each stream is checked against its own expected revision (`no_stream`, `any`, exact), all
   *   before anything is written. When one does not hold, nothing is written and the call throws
   *   WrongExpectedVersionError naming the first such stream in request order, with that stream's
   *   expected and actual revision.
   * - Every event gets its own position. The events follow each other in $all in request order
   *   (all of the first stream's events, then the second's, …), with nothing from another append
   *   between them; readers and subscribers of $all see the append whole or not at all.
   * - Idempotent like `appendToStream`: when every stream's events are already stored with the
   *   same ids at the place its expected revision names (`any`: anywhere at the end of that
   *   stream), nothing is written and the original result returns (same revisions, same
   *   position). When only some streams are such a retry, it is a conflict: WrongExpectedVersionError
   *   for the first stream in request order that is a retry or does not match.
   * - Ids already stored elsewhere: as `appendToStream` (PostgreSQL throws DuplicateEventIdError,
   *   EventStoreDB writes them again).
   * - The result lists every stream in request order with its new last revision, and the position
   *   of the last event of the append.
   */
  appendToStreams(appends: readonly StreamAppend[]): Promise<StreamsAppendResult>;
  /** Events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(streamId: string, options?: { fromRevision?: bigint; maxCount?: number }): Promise<RecordedEvent[]>;
  /**
   * Several streams at once, each from its start and in revision order, at most `maxCount` events
   * of each: one entry per distinct requested id (an empty array when that stream does not exist).
   * What `readStream` would return for each, in fewer round trips.
   */
  readStreams(streamIds: readonly string[], options: { maxCount: number }): Promise<Map<string, RecordedEvent[]>>;
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeOptions): Subscription;
  /** Position of the newest event a reader of $all can see now (0n when empty). */
  headPosition(): Promise<bigint>;
  /**
   * Position of the newest committed event, even one a reader of $all cannot see yet (PostgreSQL
   * holds readers below the oldest transaction still in flight); 0n when empty. Every position an
   * append has returned is at most this, so a larger one was never issued.
   */
  lastPosition(): Promise<bigint>;
  /** Cheap reachability check for /ready. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class WrongExpectedVersionError extends Error {
  readonly code = 'WRONG_EXPECTED_VERSION';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** The stream's current revision, or 'no_stream' when it does not exist. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(`Stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedVersionError';
  }
}

export class DuplicateEventIdError extends Error {
  readonly code = 'DUPLICATE_EVENT_ID';
  constructor(
    readonly streamId: string,
    readonly eventIds: string[],
  ) {
    super(`Stream ${streamId}: event id(s) ${eventIds.join(', ')} already stored elsewhere`);
    this.name = 'DuplicateEventIdError';
  }
}

const EVENT_TYPE_PATTERN = /^[\p{L}\p{N}_.$:-]+$/u;

/** Whether `appendToStreams` takes this event type (`appendToStream` takes any). */
export function isMultiStreamEventType(type: string): boolean {
  return EVENT_TYPE_PATTERN.test(type) && type.normalize('NFC') === type;
}

/** The input rules of `appendToStreams`, checked the same way by every adapter. */
export function validateStreamAppends(appends: readonly StreamAppend[]): void {
  if (appends.length === 0) throw new RangeError('appendToStreams needs at least one stream');
  const streams = new Set<string>();
  const ids = new Set<string>();
  for (const { streamId, events } of appends) {
    const key = streamId.toLowerCase();
    if (streams.has(key)) throw new RangeError(`appendToStreams: stream ${streamId} appears more than once`);
    streams.add(key);
    if (events.length === 0) throw new RangeError(`appendToStreams: no events for stream ${streamId}`);
    for (const event of events) {
      const id = event.id.toLowerCase();
      if (ids.has(id)) throw new RangeError(`appendToStreams: event id ${event.id} appears more than once`);
      ids.add(id);
      if (!isMultiStreamEventType(event.type)) {
        throw new RangeError(`appendToStreams: event type ${JSON.stringify(event.type)} must be letters, digits, _ . $ : - (NFC)`);
      }
    }
  }
}

export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(0, dash);
}

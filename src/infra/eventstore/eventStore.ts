/**
 * The event-store port. Shaped after EventStoreDB so both adapters (PostgreSQL, EventStoreDB)
 * keep the same semantics and pass the same contract suite (test/eventstore.contract.ts).
 *
 * - Revisions are per stream and start at 0. Positions are global, unique, and increase in the
 *   order `readAll`/`subscribeToAll` deliver events; treat them as opaque bigints.
 * - `appendToStream` is atomic: all events or none.
 * - Re-appending events whose ids are already stored at the place the expected revision names is a
 *   no-op that returns the original result (webhook retries rely on this).
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
  appendToStream(streamId: string, events: EventData[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult>;
  /** Events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(streamId: string, options?: { fromRevision?: bigint; maxCount?: number }): Promise<RecordedEvent[]>;
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
  constructor(readonly streamId: string, readonly eventIds: string[]) {
    super(`Stream ${streamId}: event id(s) ${eventIds.join(', ')} already stored elsewhere`);
    this.name = 'DuplicateEventIdError';
  }
}

export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(0, dash);
}

import {
  ANY,
  BACKWARDS,
  DeadlineExceededError,
  END,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  StreamNotFoundError,
  TimeoutError,
  UnknownError,
  UnsupportedError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendStreamState,
  type JSONEventData,
  type MultiAppendResult,
  type Position,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { UnavailableError } from '../../errors';
import { metadataAsWritten, metadataProperties } from './esdbMetadata';
import { noSnapshots, type SnapshotStore } from './snapshotStore';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
  type RecordedEvent,
  type StreamAppend,
  type StreamsAppendResult,
  type SubscribeOptions,
  type Subscription,
  validateStreamAppends,
} from './eventStore';

/*
 * Positions. ESDB addresses $all with a pair {commit, prepare} of log offsets; the port has one
 * bigint. We use the commit position and resume from {commit: p, prepare: p}. Every event written
 * through gRPC is an implicitly committed prepare, for which ESDB reports commit === prepare === the
 * event's own offset: unique, increasing in $all order, and a record boundary the server accepts as a
 * starting point. An append answers {commit: last event's offset, prepare: first event's}, so its
 * commit is the position of the last appended event; a multi-stream append answers that same commit
 * position. Events from explicit transactions of the legacy
 * TCP API share one commit position and cannot be checkpointed as one number: reading one fails
 * loudly rather than risk a checkpoint that skips or repeats events.
 * Subscribing from a position is exclusive on the server, reading $all from one inclusive, hence
 * the `position <= after` guards. A negative `after` (a projector without checkpoint) means the
 * start of $all; no event sits at 0, where every ESDB log has its epoch record.
 */

const MAX_LOG_POSITION = (1n << 63n) - 1n;

/** KurrentDB's atomic multi-stream append (Streams v2 AppendSession) came with this release. */
export const MULTI_STREAM_APPEND_SERVER_VERSION = '25.1';
/** gRPC's status code, without depending on grpc-js ourselves. */
const GRPC_FAILED_PRECONDITION = 9;

export interface EsdbEventStoreOptions {
  /** kurrentdb://, kdb://, esdb:// (each with +discover), as KurrentDB and EventStoreDB document them. */
  connectionString: string;
  /** Deadline of each append and read, and for the server to confirm a subscription (which then lives on gRPC keep-alive). */
  timeoutMs?: number;
  /**
   * Where snapshots of folded streams are kept (the read models' PostgreSQL, see createEventStore);
   * closed with the store. None: every fold reads its whole stream.
   */
  snapshots?: SnapshotStore & { close?(): Promise<void> };
}

export class EventStoreTimeoutError extends UnavailableError {
  constructor(operation: string, timeoutMs: number) {
    super('EVENT_STORE_TIMEOUT', `EventStoreDB did not answer ${operation} within ${timeoutMs} ms`);
    this.name = 'EventStoreTimeoutError';
  }
}

/** An event in the store that this port cannot represent faithfully (see the notes on positions). */
export class UnsupportedEsdbEventError extends Error {
  readonly code = 'ESDB_UNSUPPORTED_EVENT';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEsdbEventError';
  }
}

/** The server cannot do what the port promises (an atomic multi-stream append). */
export class EventStoreServerTooOldError extends Error {
  readonly code = 'EVENT_STORE_SERVER_TOO_OLD';
  constructor() {
    super(
      `the event store at EVENTSTORE_CONNECTION_STRING does not offer atomic multi-stream appends; order-ledger needs KurrentDB ${MULTI_STREAM_APPEND_SERVER_VERSION} or later`,
    );
    this.name = 'EventStoreServerTooOldError';
  }
}

/**
 * The client warns on every connection that esdb:// is deprecated; the same servers answer
 * kurrentdb://, so older configurations keep working quietly.
 */
export function normalizeConnectionString(connectionString: string): string {
  const normalized = connectionString.trim().replace(/^(?:esdb|kdb|kurrent)(\+discover)?:\/\//i, 'kurrentdb$1://');
  // With throwOnAppendFailure=false the client reports conflicts as a result whose current revision
  // is wrong on the BatchAppend path; conflicts must arrive as errors to be mapped faithfully.
  if (/[?&]throwOnAppendFailure=false(?:&|$)/i.test(normalized)) {
    throw new Error('EVENTSTORE_CONNECTION_STRING: throwOnAppendFailure=false is not supported by order-ledger');
  }
  return normalized;
}

function toEsdbExpected(expected: ExpectedRevision): AppendStreamState {
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'any') return ANY;
  if (expected < 0n) throw new RangeError(`expected revision must be >= 0, got ${expected}`);
  return expected;
}

function toEsdbPosition(position: bigint): Position {
  return { commit: position, prepare: position };
}

function isSystemEvent(type: string): boolean {
  return type.startsWith('$');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

type EsdbRecorded = NonNullable<ResolvedEvent['event']>;

/** Our single position for an event, or undefined when the server did not report one. */
function positionOf(event: EsdbRecorded): bigint | undefined {
  const position = event.position;
  // Servers older than the 22.x series report no position on stream reads (2^64-1, "end").
  if (!position || position.commit < 0n || position.commit > MAX_LOG_POSITION) return undefined;
  if (position.commit !== position.prepare) {
    throw new UnsupportedEsdbEventError(
      `event ${event.id} in ${event.streamId} was written in an explicit transaction (commit ${position.commit}, prepare ${position.prepare}); its $all position cannot be checkpointed as one number`,
    );
  }
  return position.commit;
}

function requirePosition(event: EsdbRecorded): bigint {
  const position = positionOf(event);
  if (position === undefined) {
    throw new UnsupportedEsdbEventError(
      `EventStoreDB reported no $all position for event ${event.id} in ${event.streamId}; order-ledger needs EventStoreDB 22.10 LTS or later, which reports positions on stream reads`,
    );
  }
  return position;
}

function toRecorded(event: EsdbRecorded, position: bigint): RecordedEvent {
  const stored = event.metadata ?? {};
  const metadata = isPlainObject(stored) ? metadataAsWritten(stored) : undefined;
  if (!event.isJson || !isPlainObject(event.data) || !metadata) {
    throw new UnsupportedEsdbEventError(`event ${event.id} in ${event.streamId} is not a JSON object with JSON object metadata`);
  }
  return {
    id: event.id,
    streamId: event.streamId,
    type: event.type,
    revision: event.revision,
    position,
    data: event.data,
    metadata,
    createdAt: event.created.toISOString(),
  };
}

function toEsdbEvent(event: EventData): JSONEventData {
  return { id: event.id, contentType: 'application/json', type: event.type, data: event.data, metadata: event.metadata };
}

function toMultiStreamEvent(event: EventData): JSONEventData {
  return { id: event.id, contentType: 'application/json', type: event.type, data: event.data, metadata: metadataProperties(event.metadata) };
}

/** A short name for an append to several streams, for timeouts and logs. */
function streamsLabel(appends: readonly StreamAppend[]): string {
  const names = appends.slice(0, 3).map((append) => append.streamId);
  return `an append to ${names.join(', ')}${appends.length > 3 ? ` and ${appends.length - 3} more stream(s)` : ''}`;
}

/**
 * The event store on KurrentDB (25.1 or later, for the atomic multi-stream append) through the
 * official client, @kurrent/kurrentdb-client. Same semantics as the PostgreSQL store, except that
 * KurrentDB does not make event ids unique across the store (only a retry at the place the expected
 * revision names is recognised) and recognises retries with `any` only while the ids are in the
 * server's cache of recent writes.
 */
export class EsdbEventStore implements EventStore {
  readonly kind = 'esdb' as const;
  private readonly client: KurrentDBClient;
  private readonly timeoutMs: number;
  private readonly subscriptions = new Set<EsdbSubscription>();
  private closed = false;
  readonly snapshots: SnapshotStore & { close?(): Promise<void> };

  constructor(options: EsdbEventStoreOptions) {
    this.client = KurrentDBClient.connectionString(normalizeConnectionString(options.connectionString));
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.snapshots = options.snapshots ?? noSnapshots;
  }

  async appendToStream(streamId: string, events: EventData[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('appendToStream needs at least one event');
    const expectedRevision = toEsdbExpected(options.expectedRevision);
    const operation = `an append to ${streamId}`;
    let result: Awaited<ReturnType<KurrentDBClient['appendToStream']>>;
    try {
      // The deadline makes the server give up too; the local timer covers BatchAppend, whose
      // shared stream has no client-side deadline, and a server that never answers.
      result = await this.withTimeout(operation, this.client.appendToStream(streamId, events.map(toEsdbEvent), { streamState: expectedRevision, deadline: this.timeoutMs }));
    } catch (error) {
      if (error instanceof EsdbWrongExpectedVersionError) {
        const actual = error.actualState;
        throw new WrongExpectedVersionError(streamId, options.expectedRevision, typeof actual === 'bigint' ? actual : 'no_stream');
      }
      // Whichever deadline fires first, the gRPC one or the server's, callers see one error.
      if (error instanceof DeadlineExceededError || error instanceof TimeoutError) throw new EventStoreTimeoutError(operation, this.timeoutMs);
      throw error;
    }
    const nextRevision = result.nextExpectedRevision;
    // Older servers answer an idempotent append without a position; look the event up instead.
    const position = result.position?.commit ?? (await this.positionOfRevision(streamId, nextRevision));
    return { nextRevision, position };
  }

  /** Through the server's atomic multi-stream append (KurrentDB 25.1+); see the port for the semantics. */
  async appendToStreams(appends: readonly StreamAppend[]): Promise<StreamsAppendResult> {
    validateStreamAppends(appends);
    const operation = streamsLabel(appends);
    let result: MultiAppendResult;
    try {
      result = await this.withTimeout(
        operation,
        this.client.multiStreamAppend(
          appends.map((append) => ({
            streamName: append.streamId,
            expectedState: toEsdbExpected(append.expectedRevision),
            events: append.events.map(toMultiStreamEvent),
          })),
        ),
      );
    } catch (error) {
      if (error instanceof EsdbWrongExpectedVersionError) {
        const failed = appends.find((append) => append.streamId === error.streamName);
        if (!failed) throw new Error(`KurrentDB reported a conflict on ${error.streamName}, which this append did not write to`, { cause: error });
        const actual = error.actualState;
        throw new WrongExpectedVersionError(failed.streamId, failed.expectedRevision, typeof actual === 'bigint' ? actual : 'no_stream');
      }
      if (error instanceof UnsupportedError) throw new EventStoreServerTooOldError();
      if (error instanceof DeadlineExceededError || error instanceof TimeoutError) throw new EventStoreTimeoutError(operation, this.timeoutMs);
      throw error;
    }
    // The server answers one entry per stream, in request order.
    const streams = appends.map((append, index) => {
      const answered = result.responses[index];
      if (answered?.streamName !== append.streamId) throw new Error(`KurrentDB answered ${operation} out of order`);
      return { streamId: append.streamId, nextRevision: answered.revision };
    });
    return { streams, position: result.position };
  }

  /**
   * Refuses a server without the atomic multi-stream append: call at start-up, so an old server
   * stops the process with a message naming the version needed rather than failing the first
   * order. The probe is an empty multi-stream append: the client checks the server's advertised
   * methods first (refusing before any call on an old server), and a current server refuses an
   * empty session without writing anything.
   */
  async verifyServer(): Promise<void> {
    try {
      await this.withTimeout('a check of the server version', this.client.multiStreamAppend([]));
    } catch (error) {
      if (error instanceof UnsupportedError) throw new EventStoreServerTooOldError();
      // The client types the code as grpc-js's status enum; compared as the number it is on the wire.
      const code: number | undefined = error instanceof UnknownError ? error.code : undefined;
      if (code === GRPC_FAILED_PRECONDITION) return;
      throw error;
    }
    throw new Error('KurrentDB accepted an empty multi-stream append; expected it to refuse one');
  }

  async readStream(streamId: string, options: { fromRevision?: bigint; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    if (options.maxCount === 0) return [];
    let resolved: ResolvedEvent[];
    try {
      resolved = await this.drain(
        `a read of ${streamId}`,
        this.client.readStream(streamId, {
          fromRevision: options.fromRevision ?? START,
          maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
          direction: FORWARDS,
        }),
      );
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return resolved.flatMap(({ event }) => (event ? [toRecorded(event, requirePosition(event))] : []));
  }

  /** EventStoreDB reads one stream per call: the reads go out together. */
  async readStreams(streamIds: readonly string[], options: { maxCount: number }): Promise<Map<string, RecordedEvent[]>> {
    const ids = [...new Set(streamIds)];
    const read = await Promise.all(ids.map((id) => this.readStream(id, { maxCount: options.maxCount })));
    return new Map(ids.map((id, i) => [id, read[i]!]));
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    let after = options.after ?? -1n;
    while (events.length < options.limit) {
      // One more than needed: the read starts at `after` itself, and system events are dropped.
      const pageSize = options.limit - events.length + 1;
      const page = await this.drain('a read of $all', this.client.readAll({ fromPosition: after < 0n ? START : toEsdbPosition(after), maxCount: pageSize, direction: FORWARDS }));
      for (const { event } of page) {
        if (!event) continue;
        const position = requirePosition(event);
        if (position <= after) continue;
        after = position;
        if (isSystemEvent(event.type)) continue;
        events.push(toRecorded(event, position));
        if (events.length === options.limit) break;
      }
      if (page.length < pageSize) break;
    }
    return events;
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    const subscription = new EsdbSubscription(this.client, options.after ?? -1n, options.maxBatchSize ?? 500, this.timeoutMs, () => {
      this.subscriptions.delete(subscription);
    });
    if (this.closed) void subscription.close();
    else this.subscriptions.add(subscription);
    return subscription;
  }

  async headPosition(): Promise<bigint> {
    const [last] = await this.drain('a read of the $all head', this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
    return last?.event ? requirePosition(last.event) : 0n;
  }

  /** Commits are visible to readers as soon as they are acknowledged: the head is the last position. */
  lastPosition(): Promise<bigint> {
    return this.headPosition();
  }

  async ping(): Promise<void> {
    await this.drain('a ping', this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await this.client.dispose();
    await this.snapshots.close?.();
  }

  private async positionOfRevision(streamId: string, revision: bigint): Promise<bigint> {
    const [event] = await this.readStream(streamId, { fromRevision: revision, maxCount: 1 });
    if (!event) throw new Error(`event ${revision} of ${streamId} vanished right after an append`);
    return event.position;
  }

  private async withTimeout<T>(operation: string, promise: Promise<T>, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new EventStoreTimeoutError(operation, this.timeoutMs));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Collects a finite read. The client reads through its native (Rust) bridge without a deadline,
   * so the read is bounded here and abandoned on timeout.
   */
  private async drain<E>(operation: string, read: AsyncIterableIterator<E>): Promise<E[]> {
    const items: E[] = [];
    const reading = (async () => {
      for await (const item of read) items.push(item);
    })();
    // After a timeout nobody awaits the read any more; its ending in an error is expected then.
    reading.catch(() => undefined);
    await this.withTimeout(operation, reading, () => {
      void read.return?.()?.catch(() => undefined);
    });
    return items;
  }
}

/**
 * A catch-up subscription to $all delivering what has arrived while the consumer was busy, up to
 * maxBatchSize at once. The client stream buffers at most one batch, so a slow consumer holds the
 * server back through gRPC flow control instead of filling memory.
 */
class EsdbSubscription implements Subscription {
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly client: KurrentDBClient,
    private after: bigint,
    private readonly maxBatchSize: number,
    private readonly confirmTimeoutMs: number,
    private readonly onClosed: () => void,
  ) {}

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.onClosed();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RecordedEvent[]> {
    if (this.closed) return;
    const source: AllStreamSubscription = this.client.subscribeToAll({ fromPosition: this.after < 0n ? START : toEsdbPosition(this.after) }, { highWaterMark: this.maxBatchSize });
    let failure: Error | undefined;
    let ended = false;
    // A live subscription has no deadline, but the server must at least confirm it in time.
    const unconfirmed = setTimeout(() => {
      failure = new EventStoreTimeoutError('a subscription to $all', this.confirmTimeoutMs);
      this.wake?.();
    }, this.confirmTimeoutMs);
    source.once('confirmation', () => clearTimeout(unconfirmed));
    source.on('error', (error) => {
      failure = error;
      this.wake?.();
    });
    source.on('end', () => {
      ended = true;
      this.wake?.();
    });
    source.on('readable', () => this.wake?.());
    try {
      while (!this.closed) {
        const batch = this.takeBatch(source);
        if (batch.length > 0) {
          yield batch;
          continue;
        }
        if (failure) throw failure;
        // The server never ends a live subscription on its own; treat it like a dropped connection
        // so the consumer restarts from its checkpoint rather than mistaking it for close().
        if (ended) throw new Error('EventStoreDB ended the $all subscription');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      clearTimeout(unconfirmed);
      this.wake = undefined;
      this.onClosed();
      await source.unsubscribe().catch(() => undefined);
      source.destroy();
    }
  }

  private takeBatch(source: AllStreamSubscription): RecordedEvent[] {
    const batch: RecordedEvent[] = [];
    while (batch.length < this.maxBatchSize) {
      const resolved = source.read() as AllStreamResolvedEvent | null;
      if (resolved === null) break;
      const event = resolved.event;
      if (!event) continue;
      const position = requirePosition(event);
      // The server already starts strictly after the checkpoint; this guards a resumed read.
      if (position <= this.after) continue;
      this.after = position;
      if (isSystemEvent(event.type)) continue;
      batch.push(toRecorded(event, position));
    }
    return batch;
  }
}

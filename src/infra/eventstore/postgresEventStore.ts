import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger';
import {
  DuplicateEventIdError,
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
import { safeBoundarySql } from './postgresSchema';
import { DEFAULT_SNAPSHOT_EVERY, PostgresSnapshotStore, type SnapshotStore } from './snapshotStore';

export const EVENTS_CHANNEL = 'order_ledger_events';
const NOTIFY_MIN_INTERVAL_MS = 5;
/** Longest pause between reads while committed events wait behind an older open transaction. */
const HELD_BACK_MAX_RETRY_MS = 100;

const selectColumnsSql = 'position, event_id, stream_id, revision, type, data, metadata, created_at';

/**
 * The subscribers' "anything new?" check, run on every idle wake-up. Ordered by position with a limit,
 * so the plan is a probe of the primary key whatever the statistics say: `exists (… position > $1)`
 * becomes a sequential scan of the whole table when the planner believes most rows match (a generic
 * plan, or statistics older than the rows).
 */
export const FIRST_EVENT_AFTER_SQL = 'select position from events where position > $1 order by position limit 1';

/** $all after a position, up to the boundary below which no transaction can still commit (safeBoundarySql). */
export const READ_ALL_SQL = `select ${selectColumnsSql} from events where position > $1 and position < ${safeBoundarySql} order by position limit $2`;

/** The first events of several streams: revisions run 0, 1, 2… in every stream, so the first $2 of each are those below it. */
export const READ_STREAMS_SQL = `select ${selectColumnsSql} from events where stream_id = any($1::text[]) and revision < $2 order by stream_id, revision`;

/**
 * A named statement: each pooled connection parses and plans it once, then executes it. The hot
 * queries run several times per order, and planning cost more than executing (readAll's boundary
 * subquery: ~400 µs of planning against ~40 µs of execution, pg_stat_statements with
 * track_planning). Every name has exactly one text. Their plans must use the indexes under a
 * generic plan too (test/eventstore/postgresHotQueryPlans.int.test.ts).
 */
function prepared(name: string, text: string, values: unknown[]): pg.QueryConfig {
  return { name, text, values };
}

export interface PostgresEventStoreOptions {
  connectionString: string;
  poolMax?: number;
  statementTimeoutMs?: number;
  /** Fallback poll when no notification arrives (missed NOTIFY, unrelated long transactions). */
  pollIntervalMs?: number;
  logger?: Logger;
  /** Events folded past a snapshot before the next is saved (0: no snapshots); see snapshotStore.ts. */
  snapshotEvery?: number;
}

interface EventRow {
  position: string;
  event_id: string;
  stream_id: string;
  revision: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  created_at: Date;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    streamId: row.stream_id,
    type: row.type,
    revision: BigInt(row.revision),
    position: BigInt(row.position),
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at.toISOString(),
  };
}

function expectedParams(expected: ExpectedRevision): [string, string | null] {
  if (expected === 'any' || expected === 'no_stream') return [expected, null];
  if (expected < -1n) throw new RangeError(`expected revision must be >= 0, got ${expected}`);
  return ['exact', expected.toString()];
}

/** The port's error for a failed order_ledger_append_streams call (see its SQLSTATEs). */
function streamsAppendError(error: unknown, appends: readonly StreamAppend[]): unknown {
  const pgError = error as { code?: string; detail?: string; constraint?: string };
  const append = (index: number): StreamAppend => {
    const found = appends[index - 1];
    if (!found) throw new Error(`order_ledger_append_streams named stream ${index} of ${appends.length}`);
    return found;
  };
  if (pgError.code === 'OL001') {
    const detail = JSON.parse(pgError.detail ?? '{}') as { stream: number; actual: number | string };
    const failed = append(detail.stream);
    const actual = BigInt(detail.actual);
    return new WrongExpectedVersionError(failed.streamId, failed.expectedRevision, actual === -1n ? 'no_stream' : actual);
  }
  if (pgError.code === 'OL002') {
    const failed = append((JSON.parse(pgError.detail ?? '{}') as { stream: number }).stream);
    return new DuplicateEventIdError(
      failed.streamId,
      failed.events.map((e) => e.id),
    );
  }
  if (pgError.code === '23505' && pgError.constraint === 'events_event_id_key') {
    // Stored by a concurrent append between our check and our insert: "Key (event_id)=(<id>) already exists."
    const id = /\(event_id\)=\(([^)]+)\)/.exec(pgError.detail ?? '')?.[1];
    const failed = appends.find((a) => a.events.some((e) => e.id.toLowerCase() === id)) ?? appends[0]!;
    return new DuplicateEventIdError(
      failed.streamId,
      failed.events.map((e) => e.id),
    );
  }
  return error;
}

export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private readonly wakers = new Set<() => void>();
  private listener: pg.Client | undefined;
  private listenerStarting: Promise<void> | undefined;
  private notifyInFlight = false;
  private notifyAgain = false;
  private closed = false;
  /** Payload of this store's notifications: its own listener ignores them (it woke its subscribers already). */
  private readonly instanceId = randomUUID();
  /** In the events' own database, on the same pool. */
  readonly snapshots: SnapshotStore;

  constructor(options: PostgresEventStoreOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolMax ?? 10,
      statement_timeout: options.statementTimeoutMs ?? 15_000,
      connectionTimeoutMillis: 5000,
      application_name: 'order-ledger-eventstore',
    });
    this.pool.on('error', (error) => this.logger?.warn({ err: error }, 'idle event-store connection failed'));
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.logger = options.logger;
    this.snapshots = new PostgresSnapshotStore(this.pool, options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY);
  }

  async appendToStream(streamId: string, events: EventData[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('appendToStream needs at least one event');
    const [kind, expected] = expectedParams(options.expectedRevision);
    let result: pg.QueryResult<{ outcome: string; next_revision: string; last_position: string }>;
    try {
      result = await this.pool.query(
        prepared('ol_append', 'select outcome, next_revision, last_position from order_ledger_append($1, $2, $3, $4::uuid[], $5::text[], $6::jsonb[], $7::jsonb[])', [
          streamId,
          kind,
          expected,
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata ?? {})),
        ]),
      );
    } catch (error) {
      const pgError = error as { code?: string; detail?: string };
      if (pgError.code === 'OL001') {
        const actual = BigInt(pgError.detail ?? '-1');
        throw new WrongExpectedVersionError(streamId, options.expectedRevision, actual === -1n ? 'no_stream' : actual);
      }
      if (pgError.code === 'OL002' || (pgError.code === '23505' && (error as { constraint?: string }).constraint === 'events_event_id_key')) {
        throw new DuplicateEventIdError(
          streamId,
          events.map((e) => e.id),
        );
      }
      throw error;
    }
    const row = result.rows[0];
    if (!row) throw new Error('order_ledger_append returned no row');
    if (row.outcome === 'appended') this.notifySubscribers();
    return { nextRevision: BigInt(row.next_revision), position: BigInt(row.last_position), written: row.outcome === 'appended' };
  }

  async appendToStreams(appends: readonly StreamAppend[]): Promise<StreamsAppendResult> {
    validateStreamAppends(appends);
    const expected = appends.map((append) => expectedParams(append.expectedRevision));
    const events = appends.flatMap((append, index) => append.events.map((event) => ({ event, stream: index + 1 })));
    let result: pg.QueryResult<{ outcome: string; next_revisions: string[]; last_position: string }>;
    try {
      result = await this.pool.query(
        prepared(
          'ol_append_streams',
          `select outcome, next_revisions, last_position
             from order_ledger_append_streams($1::text[], $2::text[], $3::bigint[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[])`,
          [
            appends.map((append) => append.streamId),
            expected.map(([kind]) => kind),
            expected.map(([, revision]) => revision),
            events.map((e) => e.stream),
            events.map((e) => e.event.id),
            events.map((e) => e.event.type),
            events.map((e) => JSON.stringify(e.event.data)),
            events.map((e) => JSON.stringify(e.event.metadata ?? {})),
          ],
        ),
      );
    } catch (error) {
      throw streamsAppendError(error, appends);
    }
    const row = result.rows[0];
    if (!row) throw new Error('order_ledger_append_streams returned no row');
    if (row.outcome === 'appended') this.notifySubscribers();
    return {
      streams: appends.map((append, index) => ({ streamId: append.streamId, nextRevision: BigInt(row.next_revisions[index]!) })),
      position: BigInt(row.last_position),
      written: row.outcome === 'appended',
    };
  }

  async readStream(streamId: string, options: { fromRevision?: bigint; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    const result = await this.pool.query<EventRow>(
      prepared('ol_read_stream', `select ${selectColumnsSql} from events where stream_id = $1 and revision >= $2 order by revision limit $3`, [
        streamId,
        (options.fromRevision ?? 0n).toString(),
        options.maxCount ?? null,
      ]),
    );
    return result.rows.map(toRecorded);
  }

  async readStreams(streamIds: readonly string[], options: { maxCount: number }): Promise<Map<string, RecordedEvent[]>> {
    const streams = new Map<string, RecordedEvent[]>(streamIds.map((id) => [id, []]));
    if (streams.size === 0) return streams;
    const result = await this.pool.query<EventRow>(prepared('ol_read_streams', READ_STREAMS_SQL, [[...streams.keys()], options.maxCount]));
    for (const row of result.rows) streams.get(row.stream_id)?.push(toRecorded(row));
    return streams;
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const result = await this.pool.query<EventRow>(prepared('ol_read_all', READ_ALL_SQL, [(options.after ?? -1n).toString(), options.limit]));
    return result.rows.map(toRecorded);
  }

  /**
   * Whether events past `after` are committed but not yet readable: an older transaction (any
   * writer on the cluster, not only an append) is still open below them.
   */
  async hasHeldBackEvents(after: bigint): Promise<boolean> {
    const result = await this.pool.query<{ position: string }>(prepared('ol_first_event_after', FIRST_EVENT_AFTER_SQL, [after.toString()]));
    return result.rows.length > 0;
  }

  async headPosition(): Promise<bigint> {
    const result = await this.pool.query<{ head: string | null }>(`select max(position) as head from events where position < ${safeBoundarySql}`);
    return BigInt(result.rows[0]?.head ?? '0');
  }

  async lastPosition(): Promise<bigint> {
    const result = await this.pool.query<{ last: string | null }>('select max(position) as last from events');
    return BigInt(result.rows[0]?.last ?? '0');
  }

  async ping(): Promise<void> {
    await this.pool.query('select 1 from streams limit 1');
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    return new PostgresSubscription(this, options.after ?? -1n, options.maxBatchSize ?? 500, this.pollIntervalMs);
  }

  /** Registers a callback run on every NOTIFY; returns the unregister function. */
  onWake(waker: () => void): () => void {
    this.wakers.add(waker);
    void this.ensureListener();
    return () => this.wakers.delete(waker);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake();
    this.wakers.clear();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.end().catch(() => undefined);
    await this.pool.end();
  }

  /**
   * NOTIFY after commit, coalesced to one in flight per process: inside the append transaction it
   * would take PostgreSQL's global notify lock across the commit and serialize concurrent writers.
   */
  private notifySubscribers(): void {
    if (this.closed) return;
    if (this.notifyInFlight) {
      this.notifyAgain = true;
      return;
    }
    this.notifyInFlight = true;
    // Subscribers in this process are woken now, not a round trip through PostgreSQL later; the
    // payload names this store so its listener skips the echo (other processes' payloads differ).
    for (const wake of this.wakers) wake();
    this.pool
      .query(`select pg_notify('${EVENTS_CHANNEL}', $1)`, [this.instanceId])
      .catch((error: unknown) => this.logger?.warn({ err: error }, 'event notification failed; subscribers fall back to polling'))
      .finally(() => {
        if (!this.notifyAgain) {
          this.notifyInFlight = false;
          return;
        }
        // Under load, one notification per few milliseconds wakes subscribers just as well.
        setTimeout(() => {
          this.notifyInFlight = false;
          this.notifyAgain = false;
          this.notifySubscribers();
        }, NOTIFY_MIN_INTERVAL_MS).unref();
      });
  }

  private ensureListener(): Promise<void> {
    if (this.listener || this.closed) return Promise.resolve();
    this.listenerStarting ??= this.startListener().finally(() => {
      this.listenerStarting = undefined;
    });
    return this.listenerStarting;
  }

  private async startListener(): Promise<void> {
    const client = new pg.Client({
      connectionString: (this.pool.options as { connectionString: string }).connectionString,
      connectionTimeoutMillis: 5000,
      application_name: 'order-ledger-listener',
    });
    client.on('notification', (message) => {
      if (message.payload === this.instanceId) return;
      for (const wake of this.wakers) wake();
    });
    client.on('error', (error) => {
      // Polling carries on; the next subscriber wake-up registration reconnects.
      this.logger?.warn({ err: error }, 'event listener connection lost');
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => undefined);
      setTimeout(() => void this.ensureListener(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`listen ${EVENTS_CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.listener = client;
    } catch (error) {
      this.logger?.warn({ err: error }, 'could not LISTEN for events; polling only');
      await client.end().catch(() => undefined);
    }
  }
}

class PostgresSubscription implements Subscription {
  private closed = false;
  private wake: (() => void) | undefined;
  private notified = false;

  constructor(
    private readonly store: PostgresEventStore,
    private after: bigint,
    private readonly maxBatchSize: number,
    private readonly pollIntervalMs: number,
  ) {}

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RecordedEvent[]> {
    const unregister = this.store.onWake(() => {
      this.notified = true;
      this.wake?.();
    });
    // While committed events are not yet readable (an older transaction is still open), retry
    // soon with growing delays instead of waiting for the next poll. The NOTIFY of those events
    // may have come before this read, and the transaction holding them back may not be an append
    // (it sends no NOTIFY when it commits): without the check a subscriber would sleep a whole poll
    // interval, and every command waiting for the read model with it.
    let retryDelay = 0;
    // After a short batch nothing else was readable at that read: unless a notification came since,
    // the next step is the cheap "anything new?" probe, not another read of $all that finds nothing.
    let drained = false;
    // After a full batch the next one is read while the consumer handles this one (a catch-up or a
    // rebuild: the database reads while the consumer computes and writes). One batch ahead at most;
    // a short batch reads nothing ahead, so a live subscriber's path is unchanged.
    let ahead: Promise<RecordedEvent[]> | undefined;
    const read = (): Promise<RecordedEvent[]> => {
      // A notification from now on may announce an event this read does not see: it is kept.
      this.notified = false;
      return this.store.readAll({ after: this.after, limit: this.maxBatchSize });
    };
    try {
      while (!this.closed) {
        if (!drained || this.notified) {
          drained = false;
          const next = ahead ?? read();
          ahead = undefined;
          const batch = await next;
          if (this.closed) break;
          if (batch.length > 0) {
            this.after = batch[batch.length - 1]!.position;
            retryDelay = 0;
            drained = batch.length < this.maxBatchSize;
            if (!drained) {
              ahead = read();
              // Awaited by the next turn; a read abandoned by close() must not surface as unhandled.
              ahead.catch(() => undefined);
            }
            yield batch;
            continue;
          }
        }
        drained = false;
        if (this.notified || (await this.store.hasHeldBackEvents(this.after))) {
          retryDelay = Math.min(retryDelay === 0 ? 2 : retryDelay * 2, HELD_BACK_MAX_RETRY_MS, this.pollIntervalMs);
          await this.sleep(retryDelay);
        } else if (!this.notified) {
          // (A notification that arrived during the probe is handled by the next turn, not slept through.)
          retryDelay = 0;
          await this.sleep(this.pollIntervalMs);
        }
      }
    } finally {
      unregister();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.wake = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

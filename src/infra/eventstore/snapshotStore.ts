import pg from 'pg';

/**
 * Snapshots of folded streams, kept beside the event store. A snapshot is only a cache of
 * `fold(events[0..revision])`: a reader checks it against the stream (the event at `revision` must
 * still be `eventId`) and against its own fold's `schema`, and otherwise folds from the start. So
 * no snapshot, however stale, foreign or racing, can make a folded state wrong; losing one (a
 * crash after an append, a failed save) only makes the next read longer.
 */
export interface StreamSnapshot {
  streamId: string;
  /** Which fold made `state`, with its version (`stock-state/1`): a reader with another fold ignores it. */
  schema: string;
  /** Revision of the last event folded into `state`. */
  revision: bigint;
  /** Id of that event: a stream holding another event there (restored, re-imported, another store) voids the snapshot. */
  eventId: string;
  /** JSON. */
  state: unknown;
}

export interface SnapshotStore {
  /** Events a reader folds past the newest snapshot before it saves a new one; 0 means no snapshots (none read, none saved). */
  readonly every: number;
  /** The newest snapshot of `streamId` made by `schema`, if any. */
  load(streamId: string, schema: string): Promise<StreamSnapshot | undefined>;
  /** Stores `snapshot` unless one of the same stream and schema at the same or a later revision is stored: concurrent savers keep the newest. */
  save(snapshot: StreamSnapshot): Promise<void>;
}

/** The default number of events folded past a snapshot before the next one is saved. */
export const DEFAULT_SNAPSHOT_EVERY = 200;

export const noSnapshots: SnapshotStore = {
  every: 0,
  load: () => Promise.resolve(undefined),
  save: () => Promise.resolve(),
};

export class InMemorySnapshotStore implements SnapshotStore {
  private readonly snapshots = new Map<string, StreamSnapshot>();

  constructor(readonly every: number = DEFAULT_SNAPSHOT_EVERY) {}

  load(streamId: string, schema: string): Promise<StreamSnapshot | undefined> {
    const found = this.snapshots.get(key(streamId, schema));
    return Promise.resolve(found ? structuredClone(found) : undefined);
  }

  save(snapshot: StreamSnapshot): Promise<void> {
    const k = key(snapshot.streamId, snapshot.schema);
    const stored = this.snapshots.get(k);
    if (!stored || stored.revision < snapshot.revision) this.snapshots.set(k, structuredClone(snapshot));
    return Promise.resolve();
  }
}

const key = (streamId: string, schema: string): string => `${schema}\u0000${streamId}`;

const LOAD_SQL = 'select revision, event_id, state from stream_snapshots where stream_id = $1 and schema = $2';
const SAVE_SQL = `insert into stream_snapshots (stream_id, schema, revision, event_id, state, saved_at) values ($1, $2, $3, $4, $5, now())
  on conflict (stream_id, schema) do update set revision = excluded.revision, event_id = excluded.event_id, state = excluded.state, saved_at = excluded.saved_at
  where stream_snapshots.revision < excluded.revision`;

/**
 * The `stream_snapshots` table (migration 0012) in the read models' PostgreSQL database: the
 * PostgreSQL event store's own database, and the snapshot store of the KurrentDB adapter too.
 */
export class PostgresSnapshotStore implements SnapshotStore {
  constructor(
    private readonly pool: pg.Pool,
    readonly every: number = DEFAULT_SNAPSHOT_EVERY,
  ) {}

  /** On a small pool of its own, for an event store outside PostgreSQL; `close` ends the pool. */
  static open(connectionString: string, every: number, statementTimeoutMs = 15_000): PostgresSnapshotStore & { close(): Promise<void> } {
    const pool = new pg.Pool({ connectionString, max: 2, statement_timeout: statementTimeoutMs, connectionTimeoutMillis: 5000, application_name: 'order-ledger-snapshots' });
    // An idle connection's failure is the next query's error, not the process's.
    pool.on('error', () => undefined);
    const store = new PostgresSnapshotStore(pool, every);
    return Object.assign(store, { close: () => pool.end() });
  }

  async load(streamId: string, schema: string): Promise<StreamSnapshot | undefined> {
    const result = await this.pool.query<{ revision: string; event_id: string; state: unknown }>({ name: 'ol_load_snapshot', text: LOAD_SQL, values: [streamId, schema] });
    const row = result.rows[0];
    return row ? { streamId, schema, revision: BigInt(row.revision), eventId: row.event_id, state: row.state } : undefined;
  }

  async save(snapshot: StreamSnapshot): Promise<void> {
    await this.pool.query({
      name: 'ol_save_snapshot',
      text: SAVE_SQL,
      values: [snapshot.streamId, snapshot.schema, snapshot.revision.toString(), snapshot.eventId, JSON.stringify(snapshot.state)],
    });
  }
}

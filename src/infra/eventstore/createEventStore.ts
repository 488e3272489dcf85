import type { Config } from '../config/config';
import type { Logger } from '../logger';
import type { EventStore } from './eventStore';
import { PostgresEventStore } from './postgresEventStore';
import { noSnapshots, PostgresSnapshotStore, type SnapshotStore } from './snapshotStore';

/** PostgreSQL is the default; EVENTSTORE_CONNECTION_STRING selects EventStoreDB/KurrentDB. */
export function createEventStore(config: Config, logger: Logger): EventStore {
  if (config.EVENTSTORE_CONNECTION_STRING) {
    // Loaded only when chosen: the gRPC client and its protobuf code add about 10 MB to every process.
    // A synchronous require, because createEventStore is synchronous; the type comes from the import type.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy load, see above
    const { EsdbEventStore } = require('./esdbEventStore') as typeof import('./esdbEventStore');
    return new EsdbEventStore({ connectionString: config.EVENTSTORE_CONNECTION_STRING, snapshots: snapshotsBesideEsdb(config) });
  }
  return new PostgresEventStore({
    connectionString: config.DATABASE_URL,
    poolMax: Math.max(4, Math.floor(config.DATABASE_POOL_MAX / 2)),
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    pollIntervalMs: config.EVENTSTORE_POLL_INTERVAL_MS,
    logger,
    snapshotEvery: config.SNAPSHOT_EVERY,
  });
}

/** KurrentDB keeps the events; their snapshots go to the read models' PostgreSQL, which every deployment has. */
function snapshotsBesideEsdb(config: Config): SnapshotStore & { close?(): Promise<void> } {
  return config.SNAPSHOT_EVERY === 0 ? noSnapshots : PostgresSnapshotStore.open(config.DATABASE_URL, config.SNAPSHOT_EVERY, config.DATABASE_STATEMENT_TIMEOUT_MS);
}

/**
 * The store for a starting server: as `createEventStore`, and a KurrentDB server too old for the
 * port (no atomic multi-stream append) stops the start with a message naming the version needed.
 */
export async function openEventStore(config: Config, logger: Logger): Promise<EventStore> {
  if (!config.EVENTSTORE_CONNECTION_STRING) return createEventStore(config, logger);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy load, as in createEventStore
  const { EsdbEventStore } = require('./esdbEventStore') as typeof import('./esdbEventStore');
  const store = new EsdbEventStore({ connectionString: config.EVENTSTORE_CONNECTION_STRING, snapshots: snapshotsBesideEsdb(config) });
  try {
    await store.verifyServer();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}

import pino from 'pino';
import { loadConfig, type Config } from '../infra/config/config';
import { environmentWithEnvFile } from '../infra/config/envFile';
import { createKnex, type Knex } from '../infra/db/knex';
import { createEventStore, openEventStore } from '../infra/eventstore/createEventStore';
import type { EventStore } from '../infra/eventstore/eventStore';
import type { Logger } from '../infra/logger';

/**
 * What a subcommand may use: the server's configuration and, built on first use, the database and
 * the event store. One per process; `close()` releases whatever was opened so the process can exit.
 */
export interface CliContext {
  config: Config;
  logger: Logger;
  knex(): Knex;
  store(): EventStore;
  /** The store, checked like a starting server checks it (a KurrentDB server older than the port needs is refused). */
  openStore(): Promise<EventStore>;
  close(): Promise<void>;
}

export function createCliContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  const config = loadConfig(environmentWithEnvFile(env));
  // Logs go to stderr: stdout carries the command's data (JSON, JSON lines) and must stay parseable.
  const logger = pino({ name: 'order-ledger-cli', level: config.LOG_LEVEL }, pino.destination(2));
  let knex: Knex | undefined;
  let store: EventStore | undefined;
  let opening: Promise<EventStore> | undefined;
  return {
    config,
    logger,
    knex() {
      knex ??= createKnex({
        connectionString: config.DATABASE_URL,
        // A CLI run needs a handful of connections, not the server's pool.
        poolMax: Math.min(config.DATABASE_POOL_MAX, 5),
        statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
        applicationName: 'order-ledger-cli',
        // Knex prints failed connection attempts with a stack; the failure itself still reaches the
        // command as an error and is reported in one line.
        log: {
          warn: (message: string) => logger.debug({ knex: message }, 'knex warning'),
          error: (message: string) => logger.error({ knex: message }, 'knex error'),
          deprecate: () => undefined,
          debug: () => undefined,
        },
      });
      return knex;
    },
    store() {
      store ??= createEventStore(config, logger);
      return store;
    },
    openStore() {
      if (store) return Promise.resolve(store);
      opening ??= openEventStore(config, logger).then((opened) => (store = opened));
      return opening;
    },
    async close() {
      await opening?.catch(() => undefined);
      await store?.close().catch(() => undefined);
      await knex?.destroy().catch(() => undefined);
    },
  };
}

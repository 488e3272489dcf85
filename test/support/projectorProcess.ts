// Runs a projector alone in a child process so tests can SIGKILL it mid-stream.
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createKnex } from '../../src/infra/db/knex';
import { createLogger } from '../../src/infra/logger';
import { Projector } from '../../src/projections/projector';
import type { Projection } from '../../src/projections/projection';
import { readModelProjections } from '../../src/infra/runtime';

const url = process.env.DATABASE_URL!;
const delayMs = Number(process.env.PROJECTOR_BATCH_DELAY_MS ?? '0');
const knex = createKnex({ connectionString: url, poolMax: 2, statementTimeoutMs: 30_000 });
const store = new PostgresEventStore({ connectionString: url, pollIntervalMs: 100 });
// Slows each batch so the parent can kill the process between commits.
const slowed: Projection[] = readModelProjections.map((projection) => ({
  ...projection,
  apply: async (trx, events, tableOf) => {
    await new Promise((r) => setTimeout(r, delayMs));
    await projection.apply(trx, events, tableOf);
  },
}));
new Projector({ store, knex, projections: slowed, logger: createLogger('silent'), connectionString: url, batchSize: Number(process.env.PROJECTOR_BATCH_SIZE ?? '10') }).start();

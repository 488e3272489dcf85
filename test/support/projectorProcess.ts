// A projector alone in a child process, for tests that SIGKILL it mid-stream. Started with
// `node --import tsx` (spawnTs), so the parent holds this process's pid, not a wrapper's.
//
// With PROJECTOR_PAUSE_AFTER_BATCHES=n, once n batches have committed it enters the next batch's
// transaction, tells the parent over IPC what it committed, and waits there: the parent kills it
// at exactly that point (a batch open, uncommitted), with no timing guess.
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createKnex } from '../../src/infra/db/knex';
import { createLogger } from '../../src/infra/logger';
import { Projector } from '../../src/projections/projector';
import type { Projection } from '../../src/projections/projection';
import { readModelProjections } from '../../src/infra/runtime';

/** Sent to the parent when the projector waits to be killed. */
export interface ProjectorPaused {
  type: 'paused';
  pid: number;
  committedBatches: number;
  /** Position of the last event of the last committed batch. */
  committedPosition: string;
  /** First event of the batch whose transaction is open. */
  openBatchFrom: string;
}

const url = process.env.DATABASE_URL!;
const pauseAfter = Number(process.env.PROJECTOR_PAUSE_AFTER_BATCHES ?? '0');
const knex = createKnex({ connectionString: url, poolMax: 2, statementTimeoutMs: 30_000 });
const store = new PostgresEventStore({ connectionString: url, pollIntervalMs: 100 });

let committedBatches = 0;
let committedPosition = -1n;
// The first projection's apply runs once per batch, inside the batch's transaction: its n+1-th call
// means n batches have committed (the projector commits a batch before it reads the next one).
const watched: Projection[] = readModelProjections.map((projection, index) => ({
  ...projection,
  apply: async (trx, events, tableOf) => {
    if (index === 0 && events.length > 0) {
      if (pauseAfter > 0 && committedBatches === pauseAfter) {
        const paused: ProjectorPaused = {
          type: 'paused',
          pid: process.pid,
          committedBatches,
          committedPosition: committedPosition.toString(),
          openBatchFrom: events[0]!.position.toString(),
        };
        process.send?.(paused);
        await new Promise<never>(() => undefined);
      }
      committedBatches += 1;
      committedPosition = events[events.length - 1]!.position;
    }
    await projection.apply(trx, events, tableOf);
  },
}));
new Projector({ store, knex, projections: watched, logger: createLogger('silent'), connectionString: url, batchSize: Number(process.env.PROJECTOR_BATCH_SIZE ?? '10') }).start();

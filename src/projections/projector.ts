import type { Knex } from 'knex';
import { decodeOrderEvent, type StoredOrderEvent } from '../events/codec';
import { AdvisoryLock } from '../infra/db/advisoryLock';
import type { EventStore, RecordedEvent, Subscription } from '../infra/eventstore/eventStore';
import type { Logger } from '../infra/logger';
import type { Projection } from './projection';

export const PROJECTED_CHANNEL = 'order_ledger_projected';

export interface ProjectorOptions {
  store: EventStore;
  knex: Knex;
  projections: readonly Projection[];
  logger: Logger;
  connectionString: string;
  batchSize?: number;
  /** How often a standby instance retries the singleton lock. */
  lockRetryMs?: number;
}

export type ProjectorState = 'stopped' | 'standby' | 'running' | 'failed';

export async function readCheckpoints(knex: Knex, names: readonly string[]): Promise<Map<string, bigint>> {
  const rows = (await knex('projection_checkpoints').whereIn('name', names).select('name', 'position')) as { name: string; position: string }[];
  return new Map(rows.map((row) => [row.name, BigInt(row.position)]));
}

/** Lowest checkpoint among the projections: the position every read model has reached. */
export async function projectedPosition(knex: Knex, names: readonly string[]): Promise<bigint> {
  const checkpoints = await readCheckpoints(knex, names);
  let lowest: bigint | undefined;
  for (const name of names) {
    const position = checkpoints.get(name) ?? -1n;
    if (lowest === undefined || position < lowest) lowest = position;
  }
  return lowest ?? -1n;
}

/**
 * Applies events from $all to the read models. Each batch and the checkpoints are written in one
 * transaction, so a crash neither skips nor double-applies. One active instance per deployment.
 */
export class Projector {
  private state: ProjectorState = 'stopped';
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private endPause: (() => void) | undefined;
  private readonly lock: AdvisoryLock;
  lastError: Error | undefined;
  position = -1n;

  constructor(private readonly options: ProjectorOptions) {
    this.lock = new AdvisoryLock(options.connectionString, 'order-ledger:projector');
  }

  get status(): ProjectorState {
    return this.state;
  }

  get names(): string[] {
    return this.options.projections.map((p) => p.name);
  }

  start(): void {
    this.stopping = false;
    this.loop = this.run();
  }

  /** Resolves when the projector has caught up with `position` or stopped. Used by tests and the CLI. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.endPause?.();
    await this.subscription?.close();
    await this.loop;
    await this.lock.release().catch(() => undefined);
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    while (!this.stopping) {
      let acquired = false;
      try {
        acquired = await this.lock.tryAcquire((error) => {
          logger.error({ err: error }, 'projector lost its lock connection; stopping this run');
          void this.subscription?.close();
        });
      } catch (error) {
        logger.warn({ err: error }, 'projector could not reach PostgreSQL for its lock');
      }
      if (!acquired) {
        this.state = 'standby';
        await this.pause(this.options.lockRetryMs ?? 2000);
        continue;
      }
      this.state = 'running';
      try {
        await this.consume();
      } catch (error) {
        this.lastError = error as Error;
        this.state = 'failed';
        logger.error({ err: error }, 'projector stopped on an error; retrying after a pause');
        await this.lock.release().catch(() => undefined);
        await this.pause(5000);
        continue;
      }
      await this.lock.release().catch(() => undefined);
    }
  }

  private async consume(): Promise<void> {
    const { knex, store, projections } = this.options;
    const names = projections.map((p) => p.name);
    const checkpoints = await readCheckpoints(knex, names);
    const from = names.reduce((low, name) => {
      const position = checkpoints.get(name) ?? -1n;
      return position < low ? position : low;
    }, checkpoints.get(names[0]!) ?? -1n);
    this.position = from;
    this.subscription = store.subscribeToAll({ after: from, maxBatchSize: this.options.batchSize ?? 500 });
    if (this.stopping) await this.subscription.close();
    for await (const batch of this.subscription) {
      await this.applyBatch(batch, checkpoints);
      if (this.stopping) break;
    }
  }

  private async applyBatch(batch: RecordedEvent[], checkpoints: Map<string, bigint>): Promise<void> {
    const { knex, projections } = this.options;
    const last = batch[batch.length - 1];
    if (!last) return;
    const decoded: StoredOrderEvent[] = [];
    for (const record of batch) {
      if (!record.streamId.startsWith('order-')) continue;
      decoded.push(decodeOrderEvent(record));
    }
    await knex.transaction(async (trx) => {
      for (const projection of projections) {
        const checkpoint = checkpoints.get(projection.name) ?? -1n;
        const pending = decoded.filter((e) => e.position > checkpoint);
        if (pending.length > 0) await projection.apply(trx, pending);
      }
      await trx('projection_checkpoints')
        .insert(projections.map((p) => ({ name: p.name, position: last.position.toString(), updated_at: trx.fn.now() })))
        .onConflict('name')
        .merge(['position', 'updated_at']);
      await trx.raw('select pg_notify(?, ?)', [PROJECTED_CHANNEL, last.position.toString()]);
    });
    for (const projection of projections) checkpoints.set(projection.name, last.position);
    this.position = last.position;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.endPause = undefined;
        resolve();
      }
      this.endPause = done;
    });
  }
}

import type { Knex } from 'knex';
import { decodeOrderRecords } from '../commands/order/orderStream';
import type { EventStore, RecordedEvent } from '../infra/eventstore/eventStore';
import { SingletonSubscriber, type SubscriberState } from '../infra/eventstore/singletonSubscriber';
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

export type ProjectorState = SubscriberState;

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
  private readonly runner: SingletonSubscriber;
  private checkpoints = new Map<string, bigint>();
  position = -1n;

  constructor(private readonly options: ProjectorOptions) {
    this.runner = new SingletonSubscriber({
      name: 'projector',
      store: options.store,
      logger: options.logger,
      connectionString: options.connectionString,
      maxBatchSize: options.batchSize ?? 500,
      ...(options.lockRetryMs !== undefined ? { lockRetryMs: options.lockRetryMs } : {}),
      readCheckpoint: async () => {
        this.checkpoints = await readCheckpoints(options.knex, this.names);
        this.position = this.names.reduce((low, name) => {
          const position = this.checkpoints.get(name) ?? -1n;
          return position < low ? position : low;
        }, this.checkpoints.get(this.names[0]!) ?? -1n);
        return this.position;
      },
      handleBatch: (batch) => this.applyBatch(batch),
    });
  }

  get status(): ProjectorState {
    return this.runner.state;
  }

  get lastError(): Error | undefined {
    return this.runner.lastError;
  }

  get names(): string[] {
    return this.options.projections.map((p) => p.name);
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private async applyBatch(batch: RecordedEvent[]): Promise<void> {
    const { knex, projections } = this.options;
    const checkpoints = this.checkpoints;
    const last = batch[batch.length - 1];
    if (!last) return;
    const decoded = await decodeOrderRecords(this.options.store, batch);
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
}

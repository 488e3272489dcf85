import type { Knex } from 'knex';
import { decodeOrderRecords } from '../commands/order/orderStream';
import { decodeStockRecords } from '../commands/stock/stockStream';
import type { RecordedEvent } from '../infra/eventstore/eventStore';
import {
  lowestCheckpoint,
  SingletonSubscriber,
  subscriberDeps,
  SubscriberRole,
  type BatchContext,
  type SubscriberDeps,
  type SubscriberState,
} from '../infra/eventstore/singletonSubscriber';
import { noTracing } from '../infra/tracing/eventTracing';
import type { Projection } from './projection';

export const PROJECTED_CHANNEL = 'order_ledger_projected';

/** The projector's subscriber name: its advisory lock is subscriberLockKey(PROJECTOR_NAME). */
export const PROJECTOR_NAME = 'projector';

export interface ProjectorOptions extends SubscriberDeps {
  projections: readonly Projection[];
  batchSize?: number;
  /** Called once a batch and every checkpoint at `position` have committed (the in-process consistency waiter). */
  onProjected?: (position: bigint) => void;
}

export type ProjectorState = SubscriberState;

/** Lowest checkpoint among the projections: the position every read model has reached. */
export function projectedPosition(knex: Knex, names: readonly string[]): Promise<bigint> {
  return lowestCheckpoint(knex, names);
}

/**
 * Applies events from $all to the read models. Each batch and the checkpoints are written in one
 * transaction, so a crash neither skips nor double-applies. One active instance per deployment.
 */
export class Projector extends SubscriberRole {
  protected readonly runner: SingletonSubscriber;

  constructor(private readonly options: ProjectorOptions) {
    super();
    this.runner = new SingletonSubscriber({
      name: PROJECTOR_NAME,
      ...subscriberDeps(options),
      maxBatchSize: options.batchSize ?? 500,
      checkpoints: options.projections.map((p) => p.name),
      handleBatch: (batch, context) => this.applyBatch(batch, context),
    });
  }

  get names(): string[] {
    return this.options.projections.map((p) => p.name);
  }

  /** Each projection gets the events past its own checkpoint; all of it, and the checkpoints, in one transaction. */
  private async applyBatch(batch: RecordedEvent[], context: BatchContext): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return;
    // Each traced event's span lasts until its batch is visible in the read models.
    const spans = (this.options.tracing ?? noTracing).open('project', batch);
    try {
      await spans.run(async () => {
        const decoded = await decodeOrderRecords(this.options.store, batch);
        const stock = decodeStockRecords(batch);
        await context.commit(last.position, async (trx) => {
          for (const projection of this.options.projections) {
            const checkpoint = context.checkpoints.get(projection.name) ?? -1n;
            const pending = decoded.filter((e) => e.position > checkpoint);
            if (pending.length > 0) await projection.apply(trx, pending);
            const pendingStock = projection.applyStock ? stock.filter((e) => e.position > checkpoint) : [];
            if (pendingStock.length > 0) await projection.applyStock?.(trx, pendingStock);
          }
          await trx.raw('select pg_notify(?, ?)', [PROJECTED_CHANNEL, last.position.toString()]);
        });
      });
    } catch (error) {
      spans.end(error);
      throw error;
    }
    spans.end();
    this.options.onProjected?.(last.position);
  }
}

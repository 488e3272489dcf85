import type { Knex } from 'knex';
import type { EventStore } from '../eventstore/eventStore';
import { outboxCollector, processStateCollector, queueCollector, subscriberCollector, type ObservedSubscriber } from './collectors';
import type { Metrics } from './metrics';
import { postgresLagReader, storeLagReader } from './subscriberLag';

/** What the roles of one process contribute to its /metrics; filled in while the roles start. */
export interface ObservedRuntime {
  /** Subscribers whose role this process runs (active or standing by): their checkpoint and lag. */
  subscribers: ObservedSubscriber[];
  /** The same subscribers' instances in this process: whether each holds its lock now. */
  running: Array<{ name: string; state: () => string }>;
  /** The email queue, in processes running the worker role. */
  queue?: { name: string; getJobCounts(...states: string[]): Promise<Record<string, number>> };
}

/**
 * Each process reports what its roles own, so scraping every process covers the deployment once
 * per role instance: the projector's lag from projector processes, the queue from workers, sockets
 * from API instances. A process thus never pays for checks of roles it does not run.
 */
export function registerRuntimeCollectors(metrics: Metrics, options: { knex: Knex; store: EventStore; observed: ObservedRuntime; sockets?: () => number }): void {
  const { knex, store, observed } = options;
  if (observed.subscribers.length > 0) {
    // The PostgreSQL store's events live beside the checkpoints and can be counted there; another store is read through the port.
    const lag = store.kind === 'postgres' ? postgresLagReader(knex) : storeLagReader(store);
    metrics.addCollector(subscriberCollector({ metrics, knex, store, lag, subscribers: observed.subscribers }));
  }
  if (observed.queue) {
    metrics.addCollector(queueCollector({ metrics, queue: observed.queue }));
    metrics.addCollector(outboxCollector({ metrics, knex }));
  }
  metrics.addCollector(processStateCollector({ metrics, running: observed.running, ...(options.sockets ? { sockets: options.sockets } : {}) }));
}

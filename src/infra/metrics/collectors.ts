import { Gauge } from 'prom-client';
import type { Knex } from 'knex';
import type { EventStore } from '../eventstore/eventStore';
import { readCheckpoints } from '../eventstore/singletonSubscriber';
import { withTimeout } from '../withTimeout';
import { METRIC_PREFIX, type Metrics, type ScrapeCollector } from './metrics';
import type { LagReader } from './subscriberLag';

/** A checkpointed subscriber of $all as the metrics see it. */
export interface ObservedSubscriber {
  /** Label value: projector, notifier, refund-reactor. */
  name: string;
  /** Its checkpoint rows; the lowest one is where it resumes (a missing row counts as -1). */
  checkpoints: readonly string[];
}

/**
 * Checkpoint, head and lag of each subscriber, read at scrape time: the head through the store,
 * every checkpoint in one query, every lag in one more (see LagReader for its cost and cap).
 */
export function subscriberCollector(options: {
  metrics: Metrics;
  knex: Knex;
  store: EventStore;
  lag: LagReader;
  subscribers: readonly ObservedSubscriber[];
  timeoutMs?: number;
}): ScrapeCollector {
  const { metrics, knex, store, lag, subscribers } = options;
  const timeoutMs = options.timeoutMs ?? 2000;
  const registers = [metrics.registry];
  const checkpoint = new Gauge({
    name: `${METRIC_PREFIX}subscriber_checkpoint_position`,
    help: 'Global position up to which the subscriber has handled $all (-1: nothing yet); positions are not dense, compare them, do not subtract them',
    labelNames: ['subscriber'],
    registers,
  });
  const head = new Gauge({
    name: `${METRIC_PREFIX}eventstore_head_position`,
    help: 'Global position of the newest event a reader of $all can see',
    labelNames: ['store'],
    registers,
  });
  const lagEvents = new Gauge({
    name: `${METRIC_PREFIX}subscriber_lag_events`,
    help: `Events between the subscriber's checkpoint and the head, counted up to ${lag.cap} (that value means at least as many)`,
    labelNames: ['subscriber'],
    registers,
  });
  const lagSeconds = new Gauge({
    name: `${METRIC_PREFIX}subscriber_lag_seconds`,
    help: 'Age of the oldest event the subscriber has not handled yet (0 when caught up)',
    labelNames: ['subscriber'],
    registers,
  });
  const names = [...new Set(subscribers.flatMap((s) => s.checkpoints))];
  return {
    name: 'subscribers',
    async read() {
      const [headPosition, stored] = await Promise.all([store.headPosition(), withTimeout(readCheckpoints(knex, names), timeoutMs, 'reading the checkpoints')]);
      const positions = new Map(
        subscribers.map((s) => [
          s.name,
          s.checkpoints.reduce<bigint | undefined>((low, name) => {
            const position = stored.get(name) ?? -1n;
            return low === undefined || position < low ? position : low;
          }, undefined) ?? -1n,
        ]),
      );
      const lags = await lag.read(positions, headPosition, timeoutMs);
      return () => {
        head.set({ store: store.kind }, Number(headPosition));
        for (const [name, position] of positions) {
          checkpoint.set({ subscriber: name }, Number(position));
          const current = lags.get(name) ?? { events: 0, seconds: 0 };
          lagEvents.set({ subscriber: name }, current.events);
          lagSeconds.set({ subscriber: name }, current.seconds);
        }
      };
    },
    clear() {
      for (const gauge of [checkpoint, head, lagEvents, lagSeconds]) gauge.reset();
    },
  };
}

/** Job counts of a BullMQ queue by state: one Redis round trip. */
export function queueCollector(options: { metrics: Metrics; queue: { name: string; getJobCounts(...states: string[]): Promise<Record<string, number>> } }): ScrapeCollector {
  const states = ['waiting', 'active', 'delayed', 'failed'] as const;
  const jobs = new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Jobs in a BullMQ queue by state (waiting, active, delayed, failed: gave up, see `order-ledger emails list --failed`)',
    labelNames: ['queue', 'state'],
    registers: [options.metrics.registry],
  });
  return {
    name: 'queue',
    async read() {
      const counts = await options.queue.getJobCounts(...states);
      return () => {
        for (const state of states) jobs.set({ queue: options.queue.name, state }, counts[state] ?? 0);
      };
    },
    clear: () => jobs.reset(),
  };
}

/** Emails the outbox still owes (neither sent nor skipped), counted on its partial index up to `cap`. */
export function outboxCollector(options: { metrics: Metrics; knex: Knex; cap?: number; timeoutMs?: number }): ScrapeCollector {
  const cap = options.cap ?? 10_000;
  const registry = options.metrics.registry;
  // No labels, so reset() would show 0: a failed read takes the metric out of the registry instead.
  const name = `${METRIC_PREFIX}email_outbox_pending`;
  const pending = new Gauge({ name, help: `Emails recorded in the outbox and not yet sent or skipped, counted up to ${cap}`, registers: [registry] });
  return {
    name: 'email-outbox',
    async read() {
      const result = (await options.knex
        .raw('select count(*)::int as n from (select 1 from email_sends where sent_at is null and skipped_reason is null limit ?) bounded', [cap])
        .timeout(options.timeoutMs ?? 2000, { cancel: true })) as { rows: { n: number }[] };
      const n = result.rows[0]?.n ?? 0;
      return () => {
        if (!registry.getSingleMetric(name)) registry.registerMetric(pending);
        pending.set(n);
      };
    },
    clear: () => registry.removeSingleMetric(name),
  };
}

/** Values this process holds in memory: which subscribers it runs now, and its open sockets. */
export function processStateCollector(options: { metrics: Metrics; running: ReadonlyArray<{ name: string; state: () => string }>; sockets?: () => number }): ScrapeCollector {
  const registers = [options.metrics.registry];
  const running = new Gauge({
    name: `${METRIC_PREFIX}subscriber_running`,
    help: "Whether this process holds the subscriber's lock and runs it (1), stands by or has stopped (0); one process per deployment shows 1",
    labelNames: ['subscriber'],
    registers,
  });
  const sockets = options.sockets ? new Gauge({ name: `${METRIC_PREFIX}sockets_connected`, help: 'Socket.io connections open on this process', registers }) : undefined;
  return {
    name: 'process',
    read() {
      return Promise.resolve(() => {
        for (const subscriber of options.running) running.set({ subscriber: subscriber.name }, subscriber.state() === 'running' ? 1 : 0);
        if (sockets && options.sockets) sockets.set(options.sockets());
      });
    },
    clear() {
      running.reset();
      sockets?.reset();
    },
  };
}

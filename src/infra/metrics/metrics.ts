import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../logger';

export const METRIC_PREFIX = 'order_ledger_';

/**
 * The Node process metrics (CPU, memory, event-loop delay, GC, handles) describe the process, not a
 * runtime: prom-client's collectors start a GC observer and an event-loop monitor that are never
 * stopped, so they are registered once per process, however many runtimes it starts (tests start
 * dozens), and every runtime's /metrics shows the same ones.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: METRIC_PREFIX });
  }
  return processRegistry;
}

/** A part of /metrics whose values need I/O: read at scrape time, bounded in time, and cached. */
export interface ScrapeCollector {
  /** Shown as the `collector` label of the scrape health metrics. */
  name: string;
  /** Reads the values; `apply` is called only when they arrived within the scrape timeout. */
  read(): Promise<() => void>;
  /** Removes the collector's series, so a failed read shows as absent rather than stale. */
  clear(): void;
}

export interface MetricsOptions {
  logger: Logger;
  /** How long values read by the collectors are served again without new I/O. */
  cacheMs?: number;
  /** Bound on one collection; a collector that does not answer in time is reported as down. */
  timeoutMs?: number;
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const EVENTS_PER_APPEND_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 500, 1000];

export type AppendOutcome = 'ok' | 'conflict' | 'duplicate' | 'error';
export type ConsistencyOutcome = 'immediate' | 'reached' | 'timeout' | 'error';

/**
 * Every metric one runtime exposes, built once in the composition root. Instruments that count
 * what happens (requests, appends, waits, sends) are updated where it happens; values that live
 * elsewhere (checkpoints, queue depth, connected sockets) come from collectors at scrape time.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly collectors: ScrapeCollector[] = [];
  private collected: Promise<void> | undefined;
  private collectedAt = 0;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;

  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly appends: Counter<'store' | 'outcome'>;
  readonly appendDuration: Histogram<'store' | 'outcome'>;
  readonly appendEvents: Histogram<'store' | 'outcome'>;
  readonly consistencyWaits: Counter<'outcome'>;
  readonly consistencyWaitDuration: Histogram<'outcome'>;
  readonly emailsSent: Counter<'kind'>;
  readonly emailsFailed: Counter<'kind' | 'final'>;
  readonly emailsSkipped: Counter<'kind' | 'reason'>;
  private readonly collectorUp: Gauge<'collector'>;
  private readonly collectorSeconds: Gauge<'collector'>;

  constructor(private readonly options: MetricsOptions) {
    this.cacheMs = options.cacheMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? 2000;
    const registers = [this.registry];
    this.httpRequestDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'HTTP requests by method, route template (never the raw URL) and status, from arrival to the last byte written',
      labelNames: ['method', 'route', 'status'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.appends = new Counter({
      name: `${METRIC_PREFIX}eventstore_appends_total`,
      help: 'Appends to the event store by store kind and outcome (ok, conflict: wrong expected revision, duplicate: event id stored elsewhere, error)',
      labelNames: ['store', 'outcome'],
      registers,
    });
    this.appendDuration = new Histogram({
      name: `${METRIC_PREFIX}eventstore_append_duration_seconds`,
      help: 'Duration of one append to the event store',
      labelNames: ['store', 'outcome'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.appendEvents = new Histogram({
      name: `${METRIC_PREFIX}eventstore_append_events`,
      help: 'Events per append (the sum is the number of events appended)',
      labelNames: ['store', 'outcome'],
      buckets: EVENTS_PER_APPEND_BUCKETS,
      registers,
    });
    this.consistencyWaits = new Counter({
      name: `${METRIC_PREFIX}consistency_waits_total`,
      help: 'Read-your-writes waits by outcome: immediate (read models already there), reached, timeout (503 CONSISTENCY_TIMEOUT or a pending command answer), error',
      labelNames: ['outcome'],
      registers,
    });
    this.consistencyWaitDuration = new Histogram({
      name: `${METRIC_PREFIX}consistency_wait_duration_seconds`,
      help: 'How long read-your-writes waits that had to wait took, by outcome',
      labelNames: ['outcome'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.emailsSent = new Counter({
      name: `${METRIC_PREFIX}emails_sent_total`,
      help: 'Emails handed to the SMTP server (or written to the outbox folder) by this process, by kind',
      labelNames: ['kind'],
      registers,
    });
    this.emailsFailed = new Counter({
      name: `${METRIC_PREFIX}emails_failed_total`,
      help: 'Failed email job attempts by kind; final="true" when the job gave up and sits in the failed set',
      labelNames: ['kind', 'final'],
      registers,
    });
    this.emailsSkipped = new Counter({
      name: `${METRIC_PREFIX}emails_skipped_total`,
      help: 'Email jobs that sent nothing by kind and reason (already-claimed: sent before; no-recipient: the owner has no account)',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.collectorUp = new Gauge({
      name: `${METRIC_PREFIX}scrape_collector_up`,
      help: 'Whether the collector read its values within the scrape timeout at the last collection (0: its series are absent)',
      labelNames: ['collector'],
      registers,
    });
    this.collectorSeconds = new Gauge({
      name: `${METRIC_PREFIX}scrape_collector_duration_seconds`,
      help: 'How long the collector took at the last collection',
      labelNames: ['collector'],
      registers,
    });
  }

  addCollector(collector: ScrapeCollector): void {
    this.collectors.push(collector);
  }

  /** Content-Type of render()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition: this runtime's metrics, then the process's. */
  async render(): Promise<string> {
    await this.collect();
    return `${await this.registry.metrics()}\n${await processMetrics().metrics()}`;
  }

  /**
   * Runs the collectors at most once per `cacheMs`, whatever the number of scrapes: concurrent
   * scrapes share the collection under way, and later ones within the window reuse its values.
   */
  private collect(): Promise<void> {
    if (this.collected && Date.now() - this.collectedAt < this.cacheMs) return this.collected;
    this.collectedAt = Number.POSITIVE_INFINITY;
    const run = Promise.all(this.collectors.map((collector) => this.runCollector(collector))).then(() => {
      this.collectedAt = Date.now();
    });
    this.collected = run;
    return run;
  }

  private async runCollector(collector: ScrapeCollector): Promise<void> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const apply = await Promise.race([
        collector.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      apply();
      this.collectorUp.set({ collector: collector.name }, 1);
    } catch (error) {
      collector.clear();
      this.collectorUp.set({ collector: collector.name }, 0);
      this.options.logger.warn(
        { collector: collector.name, err: { code: (error as { code?: unknown }).code, message: (error as Error).message?.split('\n')[0] } },
        'metrics collector failed',
      );
    } finally {
      clearTimeout(timer);
      this.collectorSeconds.set({ collector: collector.name }, (performance.now() - started) / 1000);
    }
  }
}

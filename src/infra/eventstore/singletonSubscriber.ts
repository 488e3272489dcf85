import type { Knex } from 'knex';
import { AdvisoryLock } from '../db/advisoryLock';
import type { Logger } from '../logger';
import type { EventStore, RecordedEvent, Subscription } from './eventStore';
import type { EventTracing } from '../tracing/eventTracing';

export type SubscriberState = 'stopped' | 'standby' | 'running' | 'failed';

/** Every subscriber's checkpoints: one row per name, the position of the last event whose effects are durable. */
export const CHECKPOINTS_TABLE = 'projection_checkpoints';

/** How long the reactors (refunds, expiry) gather events after catching up: a refund starts at most this much later. */
export const REACTOR_GATHER_MS = 200;

/** The advisory lock that makes a subscriber (or a tool acting for one, like the CLI's rebuild) a singleton. */
export function subscriberLockKey(name: string): string {
  return `order-ledger:${name}`;
}

export async function readCheckpoints(db: Knex | Knex.Transaction, names: readonly string[]): Promise<Map<string, bigint>> {
  const rows = (await db(CHECKPOINTS_TABLE).whereIn('name', names).select('name', 'position')) as { name: string; position: string }[];
  return new Map(rows.map((row) => [row.name, BigInt(row.position)]));
}

/** The lowest of these checkpoints (-1 for a name without one): the position all of them have reached. */
export async function lowestCheckpoint(db: Knex | Knex.Transaction, names: readonly string[]): Promise<bigint> {
  return lowestOf(await readCheckpoints(db, names), names);
}

function lowestOf(checkpoints: ReadonlyMap<string, bigint>, names: readonly string[]): bigint {
  let lowest: bigint | undefined;
  for (const name of names) {
    const position = checkpoints.get(name) ?? -1n;
    if (lowest === undefined || position < lowest) lowest = position;
  }
  return lowest ?? -1n;
}

/** Moves the checkpoints to `position` (inside the caller's transaction, with the effects they stand for). */
export async function saveCheckpoints(db: Knex | Knex.Transaction, names: readonly string[], position: bigint): Promise<void> {
  if (names.length === 0) return;
  await db(CHECKPOINTS_TABLE)
    .insert(names.map((name) => ({ name, position: position.toString(), updated_at: db.fn.now() })))
    .onConflict('name')
    .merge(['position', 'updated_at']);
}

export async function deleteCheckpoints(db: Knex | Knex.Transaction, names: readonly string[]): Promise<void> {
  await db(CHECKPOINTS_TABLE).whereIn('name', names).delete();
}

/** What a subscriber's batch handler may do besides reading the batch. */
export interface BatchContext {
  /** Each checkpoint as this run last saved it (-1 when it has none). */
  readonly checkpoints: ReadonlyMap<string, bigint>;
  isStopping(): boolean;
  /**
   * Moves every checkpoint of the subscriber to `position`, in one transaction with `work` (the
   * effects the checkpoint stands for). A position at or below the checkpoints only runs `work`
   * when given; with no work it does nothing.
   */
  commit(position: bigint, work?: (trx: Knex.Transaction) => Promise<void>): Promise<void>;
}

export interface SingletonSubscriberOptions {
  /** Shown in logs; also names the advisory lock (subscriberLockKey). */
  name: string;
  store: EventStore;
  knex: Knex;
  logger: Logger;
  connectionString: string;
  maxBatchSize: number;
  /** The checkpoint rows this subscriber moves (the projector: one per read model); [name] by default. */
  checkpoints?: readonly string[];
  /** Called at the start of every run, before resuming from the lowest checkpoint (drop caches). */
  onResume?(checkpoints: ReadonlyMap<string, bigint>): void;
  /** Handles one batch; moves the checkpoints through `context.commit` once the batch's effects are durable. */
  handleBatch(batch: RecordedEvent[], context: BatchContext): Promise<void>;
  /** How often a standby instance retries the lock. */
  lockRetryMs?: number;
  /** Pause before a run that failed starts again from its checkpoint. */
  failurePauseMs?: number;
  /**
   * A commit that only moves the checkpoints (no work) is written at most this often: for a
   * subscriber that acts on few events (the refund reactor), a transaction per batch of events it
   * skips costs more than all its work. A crash then re-reads at most this much of $all, which
   * at-least-once delivery allows; stop() writes it. Unset: written at once.
   */
  checkpointOnlyDelayMs?: number;
  /**
   * After a batch shorter than maxBatchSize (the subscriber had caught up), wait this long before
   * reading again, so what arrives meanwhile comes as one batch. For a reactor off every latency
   * path, a read of $all (and a transaction) per few events costs more than its work. stop() ends
   * the wait. Unset: read again at once.
   */
  gatherMs?: number;
}

/**
 * The loop every checkpointed subscriber of $all shares (projector, notifier, refund reactor):
 * one active instance per deployment through a PostgreSQL advisory lock, resume from the
 * checkpoint, and after a failure a pause and a fresh run from the checkpoint (at least once).
 */
export class SingletonSubscriber {
  private current: SubscriberState = 'stopped';
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private endPause: (() => void) | undefined;
  private readonly lock: AdvisoryLock;
  private readonly names: readonly string[];
  private checkpoints = new Map<string, bigint>();
  /** A checkpoint-only move not yet written (checkpointOnlyDelayMs), and the timer that writes it. */
  private deferred: bigint | undefined;
  private deferTimer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  lastError: Error | undefined;

  constructor(private readonly options: SingletonSubscriberOptions) {
    this.lock = new AdvisoryLock(options.connectionString, subscriberLockKey(options.name));
    this.names = options.checkpoints ?? [options.name];
  }

  /** The lowest checkpoint as this instance last read or saved it (-1 before it ran). */
  get position(): bigint {
    return lowestOf(this.checkpoints, this.names);
  }

  get state(): SubscriberState {
    return this.current;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  start(): void {
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.endPause?.();
    await this.subscription?.close();
    await this.loop;
    await this.lock.release().catch(() => undefined);
    // (The last deferred checkpoint was written by the run before it released the lock.)
    this.current = 'stopped';
  }

  private async run(): Promise<void> {
    const { logger, name } = this.options;
    while (!this.stopping) {
      let acquired = false;
      try {
        acquired = await this.lock.tryAcquire((error) => {
          logger.error({ err: error, subscriber: name }, 'lost the lock connection; stopping this run');
          void this.subscription?.close();
        });
      } catch (error) {
        logger.warn({ err: error, subscriber: name }, 'could not reach PostgreSQL for the lock');
      }
      if (!acquired) {
        this.current = 'standby';
        await this.pause(this.options.lockRetryMs ?? 2000);
        continue;
      }
      this.current = 'running';
      try {
        await this.consume();
        await this.writeDeferred();
      } catch (error) {
        this.dropDeferred();
        this.lastError = error as Error;
        this.current = 'failed';
        logger.error({ err: error, subscriber: name }, 'stopped on an error; starting again from the checkpoint after a pause');
        await this.lock.release().catch(() => undefined);
        await this.pause(this.options.failurePauseMs ?? 5000);
        continue;
      }
      await this.lock.release().catch(() => undefined);
    }
  }

  private async consume(): Promise<void> {
    this.checkpoints = await readCheckpoints(this.options.knex, this.names);
    this.options.onResume?.(this.checkpoints);
    this.subscription = this.options.store.subscribeToAll({ after: this.position, maxBatchSize: this.options.maxBatchSize });
    if (this.stopping) await this.subscription.close();
    const context: BatchContext = {
      checkpoints: this.checkpoints,
      isStopping: () => this.stopping,
      commit: (position, work) => this.commit(position, work),
    };
    const gatherMs = this.options.gatherMs ?? 0;
    for await (const batch of this.subscription) {
      await this.options.handleBatch(batch, context);
      if (this.stopping) break;
      if (gatherMs > 0 && batch.length < this.options.maxBatchSize) await this.pause(gatherMs);
      if (this.stopping) break;
    }
  }

  private async commit(position: bigint, work?: (trx: Knex.Transaction) => Promise<void>): Promise<void> {
    const moves = this.names.some((name) => (this.checkpoints.get(name) ?? -1n) < position);
    if (!moves && !work) return;
    const delayMs = this.options.checkpointOnlyDelayMs;
    if (!work && delayMs !== undefined && delayMs > 0) {
      for (const name of this.names) this.checkpoints.set(name, position);
      this.deferred = position;
      this.deferTimer ??= setTimeout(() => {
        this.deferTimer = undefined;
        this.writeDeferred().catch((error: unknown) => this.options.logger.warn({ err: error, subscriber: this.options.name }, 'could not write a checkpoint; the next one will'));
      }, delayMs);
      this.deferTimer.unref();
      return;
    }
    await this.serially(() =>
      this.options.knex.transaction(async (trx) => {
        await work?.(trx);
        if (moves) await saveCheckpoints(trx, this.names, position);
      }),
    );
    if (moves) {
      for (const name of this.names) this.checkpoints.set(name, position);
      if (this.deferred !== undefined && this.deferred <= position) this.dropDeferred();
    }
  }

  /** Writes the deferred checkpoint, if any, after any write in flight (checkpoints never move back). */
  private writeDeferred(): Promise<void> {
    return this.serially(async () => {
      const position = this.deferred;
      if (position === undefined) return;
      this.dropDeferred();
      await saveCheckpoints(this.options.knex, this.names, position);
    });
  }

  private dropDeferred(): void {
    this.deferred = undefined;
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
  }

  private serially(write: () => Promise<void>): Promise<void> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endPause = done;
    });
  }
}

/** What every subscriber role is given: where events come from, where checkpoints go, its lock's database. */
export interface SubscriberDeps {
  store: EventStore;
  knex: Knex;
  logger: Logger;
  connectionString: string;
  /** How often a standby instance retries the singleton lock. */
  lockRetryMs?: number;
  /** Spans continuing each event's trace; absent: noTracing. */
  tracing?: EventTracing;
}

/** The SingletonSubscriber options a role's own options carry. */
export function subscriberDeps(options: SubscriberDeps): SubscriberDeps {
  const { store, knex, logger, connectionString, lockRetryMs } = options;
  return { store, knex, logger, connectionString, ...(lockRetryMs !== undefined ? { lockRetryMs } : {}) };
}

/** A role that runs on a SingletonSubscriber (projector, notifier, refund reactor): started, stopped, watched. */
export abstract class SubscriberRole {
  protected abstract readonly runner: SingletonSubscriber;

  get status(): SubscriberState {
    return this.runner.state;
  }

  get lastError(): Error | undefined {
    return this.runner.lastError;
  }

  /** The lowest checkpoint as this instance last read or saved it. */
  get position(): bigint {
    return this.runner.position;
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}

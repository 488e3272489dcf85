import { AdvisoryLock } from '../db/advisoryLock';
import type { Logger } from '../logger';
import type { EventStore, RecordedEvent, Subscription } from './eventStore';

export type SubscriberState = 'stopped' | 'standby' | 'running' | 'failed';

export interface SingletonSubscriberOptions {
  /** Shown in logs; also names the advisory lock (`order-ledger:<name>`). */
  name: string;
  store: EventStore;
  logger: Logger;
  connectionString: string;
  maxBatchSize: number;
  /** Where to resume: the subscriber's checkpoint, read at the start of every run. */
  readCheckpoint(): Promise<bigint>;
  /** Handles one batch; must move the checkpoint itself once the batch's effects are durable. */
  handleBatch(batch: RecordedEvent[], isStopping: () => boolean): Promise<void>;
  /** How often a standby instance retries the lock. */
  lockRetryMs?: number;
  /** Pause before a run that failed starts again from its checkpoint. */
  failurePauseMs?: number;
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
  lastError: Error | undefined;

  constructor(private readonly options: SingletonSubscriberOptions) {
    this.lock = new AdvisoryLock(options.connectionString, `order-ledger:${options.name}`);
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
      } catch (error) {
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
    const after = await this.options.readCheckpoint();
    this.subscription = this.options.store.subscribeToAll({ after, maxBatchSize: this.options.maxBatchSize });
    if (this.stopping) await this.subscription.close();
    for await (const batch of this.subscription) {
      await this.options.handleBatch(batch, () => this.stopping);
      if (this.stopping) break;
    }
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

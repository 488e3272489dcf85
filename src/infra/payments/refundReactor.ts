import type { Knex } from 'knex';
import { decodeOrderEvent } from '../../events/codec';
import { AdvisoryLock } from '../db/advisoryLock';
import type { EventStore, RecordedEvent, Subscription } from '../eventstore/eventStore';
import type { Logger } from '../logger';
import { PaymentProviderError, PaymentProviderNotConfiguredError } from './paymentProvider';
import type { Payments } from './payments';

export const REFUND_REACTOR_NAME = 'payments-refunds';

export interface RefundReactorOptions {
  store: EventStore;
  knex: Knex;
  payments: Payments;
  logger: Logger;
  connectionString: string;
  /** Pause before a run that stopped on a provider outage starts again from its checkpoint. */
  retryMs: number;
  /** Attempts per refund within one run (provider outages, timeouts). */
  attempts?: number;
  lockRetryMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Turns every RefundRequested event into a provider refund. Its own checkpoint in
 * projection_checkpoints moves only after a request was handled, and the event id is the
 * provider's idempotency key, so a crash neither loses nor doubles a refund. One active
 * instance per deployment (advisory lock). Refunds the provider refuses outright are logged and
 * left to an admin (POST /orders/:id/refund drives the same request again).
 */
export class RefundReactor {
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private endPause: (() => void) | undefined;
  private readonly lock: AdvisoryLock;
  state: 'stopped' | 'standby' | 'running' | 'failed' = 'stopped';
  position = -1n;
  lastError: Error | undefined;

  constructor(private readonly options: RefundReactorOptions) {
    this.lock = new AdvisoryLock(options.connectionString, `order-ledger:${REFUND_REACTOR_NAME}`);
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
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    while (!this.stopping) {
      let acquired = false;
      try {
        acquired = await this.lock.tryAcquire((error) => {
          logger.error({ err: error }, 'refund reactor lost its lock connection; stopping this run');
          void this.subscription?.close();
        });
      } catch (error) {
        logger.warn({ err: error }, 'refund reactor could not reach PostgreSQL for its lock');
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
        logger.error({ err: error, position: this.position.toString() }, 'refund reactor stopped; starting again from its checkpoint after a pause');
        await this.lock.release().catch(() => undefined);
        await this.pause(this.options.retryMs);
        continue;
      }
      await this.lock.release().catch(() => undefined);
    }
  }

  private async consume(): Promise<void> {
    const { knex, store } = this.options;
    const row = (await knex('projection_checkpoints').where({ name: REFUND_REACTOR_NAME }).first('position')) as { position: string } | undefined;
    this.position = row ? BigInt(row.position) : -1n;
    this.subscription = store.subscribeToAll({ after: this.position, maxBatchSize: 100 });
    if (this.stopping) await this.subscription.close();
    for await (const batch of this.subscription) {
      await this.handleBatch(batch);
      if (this.stopping) break;
    }
  }

  private async handleBatch(batch: RecordedEvent[]): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return;
    for (const record of batch) {
      if (record.type !== 'RefundRequested' || !record.streamId.startsWith('order-')) continue;
      if (this.stopping) return;
      const stored = decodeOrderEvent(record);
      if (stored.event.type !== 'RefundRequested') continue;
      await this.refund(stored.event.data.orderId, stored.id);
      await this.saveCheckpoint(record.position);
    }
    await this.saveCheckpoint(last.position);
  }

  private async refund(orderId: string, eventId: string): Promise<void> {
    const { payments, logger } = this.options;
    const attempts = this.options.attempts ?? 3;
    const context = { actor: { type: 'system' as const, id: REFUND_REACTOR_NAME }, causationId: eventId };
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await payments.executeRefund(orderId, eventId, context);
        logger.info({ orderId, refundRequest: eventId, ...outcome }, 'refund request handled');
        return;
      } catch (error) {
        const retryable =
          error instanceof PaymentProviderNotConfiguredError || (error instanceof PaymentProviderError && error.transient);
        if (error instanceof PaymentProviderError && !error.transient) {
          logger.error({ orderId, refundRequest: eventId, err: { code: error.code, message: error.message } }, 'provider refused the refund; left to an admin');
          return;
        }
        if (!retryable || attempt >= attempts || this.stopping) throw error;
        await sleep(Math.min(this.options.retryMs, 200 * 2 ** attempt));
      }
    }
  }

  private async saveCheckpoint(position: bigint): Promise<void> {
    if (position <= this.position) return;
    const { knex } = this.options;
    await knex('projection_checkpoints')
      .insert({ name: REFUND_REACTOR_NAME, position: position.toString(), updated_at: knex.fn.now() })
      .onConflict('name')
      .merge(['position', 'updated_at']);
    this.position = position;
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

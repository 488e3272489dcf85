import { decodeOrderEvent, isOrderStream } from '../events/codec';
import type { RecordedEvent } from '../infra/eventstore/eventStore';
import {
  REACTOR_GATHER_MS,
  SingletonSubscriber,
  subscriberDeps,
  SubscriberRole,
  type BatchContext,
  type SubscriberDeps,
  type SubscriberState,
} from '../infra/eventstore/singletonSubscriber';
import { PaymentProviderError, PaymentProviderNotConfiguredError } from '../infra/payments/paymentProvider';
import type { PaymentDeps } from '../commands/payments/paymentDeps';
import { executeRefundAttempt } from '../commands/payments/partialRefunds';
import { executeRefund } from '../commands/payments/refunds';
import { noTracing } from '../infra/tracing/eventTracing';

/** A full refund request, a partial refund, or an admin's retry of a refused one: each is sent to the provider. */
const refundEventTypes: ReadonlySet<string> = new Set(['RefundRequested', 'PartialRefundRequested', 'RefundRetryRequested']);

export const REFUND_REACTOR_NAME = 'payments-refunds';

export interface RefundReactorOptions extends SubscriberDeps {
  payments: PaymentDeps;
  /** Pause before a run that stopped on a provider outage starts again from its checkpoint. */
  retryMs: number;
  /** Attempts per refund within one run (provider outages, timeouts). */
  attempts?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Turns every RefundRequested event into a provider refund. Its own checkpoint moves only after
 * a request was handled, and the event id is the
 * provider's idempotency key, so a crash neither loses nor doubles a refund. One active
 * instance per deployment (advisory lock). Refunds the provider refuses outright are logged and
 * left to an admin (POST /orders/:id/refund drives the same request again); a refused partial
 * refund is recorded as RefundFailed (POST /orders/:id/refunds/:refundId/retry tries it again).
 */
export class RefundReactor extends SubscriberRole {
  protected readonly runner: SingletonSubscriber;

  constructor(private readonly options: RefundReactorOptions) {
    super();
    this.runner = new SingletonSubscriber({
      name: REFUND_REACTOR_NAME,
      ...subscriberDeps(options),
      maxBatchSize: 100,
      failurePauseMs: options.retryMs,
      // Most batches hold no refund request: their checkpoint-only moves are written at most every 250 ms.
      checkpointOnlyDelayMs: 250,
      // Off the latency path: under load, a read of $all per few events cost more than the work.
      gatherMs: REACTOR_GATHER_MS,
      handleBatch: (batch, context) => this.handleBatch(batch, context),
    });
  }

  /** Its run's state (as `status`). */
  get state(): SubscriberState {
    return this.status;
  }

  private get stopping(): boolean {
    return this.runner.isStopping;
  }

  /** The checkpoint moves past each request once it is handled, so a crash repeats at most the one in hand. */
  private async handleBatch(batch: RecordedEvent[], context: BatchContext): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return;
    for (const record of batch) {
      if (!refundEventTypes.has(record.type) || !isOrderStream(record.streamId)) continue;
      if (this.stopping) return;
      const stored = decodeOrderEvent(record);
      const { type } = stored.event;
      if (type !== 'RefundRequested' && type !== 'PartialRefundRequested' && type !== 'RefundRetryRequested') continue;
      const spans = (this.options.tracing ?? noTracing).open('refund', [record]);
      try {
        // The provider's answer is appended inside this span, so it continues the request's trace.
        await spans.run(() => this.refund(stored.event.data.orderId, stored.id, type === 'RefundRequested' ? executeRefund : executeRefundAttempt));
      } catch (error) {
        spans.end(error);
        throw error;
      }
      spans.end();
      // Written now (as work, not deferred): a crash repeats at most the request in hand.
      await context.commit(record.position, async () => undefined);
    }
    await context.commit(last.position);
  }

  private async refund(orderId: string, eventId: string, execute: typeof executeRefund | typeof executeRefundAttempt): Promise<void> {
    const { payments, logger } = this.options;
    const attempts = this.options.attempts ?? 3;
    const context = { actor: { type: 'system' as const, id: REFUND_REACTOR_NAME }, causationId: eventId };
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await execute(payments, orderId, eventId, context);
        logger.info({ orderId, refundRequest: eventId, ...outcome }, 'refund request handled');
        return;
      } catch (error) {
        const retryable = error instanceof PaymentProviderNotConfiguredError || (error instanceof PaymentProviderError && error.transient);
        if (error instanceof PaymentProviderError && !error.transient) {
          logger.error(
            { orderId, refundRequest: eventId, err: { code: error.code, message: error.message, detail: error.logDetail } },
            'provider refused the refund; left to an admin',
          );
          return;
        }
        if (!retryable || attempt >= attempts || this.stopping) throw error;
        await sleep(Math.min(this.options.retryMs, 200 * 2 ** attempt));
      }
    }
  }
}

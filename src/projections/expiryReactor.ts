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
import { handleOrderCommand } from '../commands/orderCommandHandler';
import { isAwaitingPayment } from '../commands/order/orderDecider';
import { loadOrder } from '../commands/order/orderStream';
import type { PaymentDeps } from '../commands/payments/paymentDeps';
import { cancelOpenPayment } from '../commands/payments/cancelPayment';

export const EXPIRY_REACTOR_NAME = 'order-expiry';

const DEADLINES_TABLE = 'order_payment_deadlines';

export interface ExpiryReactorOptions extends SubscriberDeps {
  /** Cancels the open PaymentIntent / PayPal order; absent when no provider is configured. */
  payments: PaymentDeps | undefined;
  /** ORDER_PAYMENT_TTL in milliseconds. */
  ttlMs: number;
  /** How often the lock holder looks for orders past their window. */
  checkMs: number;
  clock: () => Date;
  /** Orders expired per look (the rest wait for the next one). */
  maxPerCheck?: number;
}

/**
 * Expires orders that still await payment ORDER_PAYMENT_TTL after placement. From $all it keeps
 * the orders awaiting payment (OrderPlaced in, PaymentSucceeded or OrderCancelled out), written
 * with its checkpoint in one transaction; on a timer, the instance holding the singleton lock
 * cancels each due order's open payment at the provider, then appends the expiry (an OrderCancelled
 * whose append releases the reserved stock) and drops the order from its list. Every step is
 * idempotent (the expiry's event id is derived from the order id, the decider refuses a paid
 * order), so a crash between them only repeats work. A payment the provider took anyway arrives
 * on a cancelled order and is refunded as a payment received after cancellation.
 */
export class OrderExpiryReactor extends SubscriberRole {
  protected readonly runner: SingletonSubscriber;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<number> | undefined;

  constructor(private readonly options: ExpiryReactorOptions) {
    super();
    this.runner = new SingletonSubscriber({
      name: EXPIRY_REACTOR_NAME,
      ...subscriberDeps(options),
      maxBatchSize: 500,
      // Off the latency path: under load, a read of $all per few events cost more than the work.
      gatherMs: REACTOR_GATHER_MS,
      handleBatch: (batch, context) => this.track(batch, context),
    });
  }

  get state(): SubscriberState {
    return this.status;
  }

  override start(): void {
    super.start();
    this.timer = setInterval(() => {
      // Only the instance holding the lock expires orders; a check still running is not doubled.
      if (this.status !== 'running' || this.checking) return;
      void this.expireDue(this.options.clock()).catch((error: unknown) => this.options.logger.error({ err: error }, 'order expiry check failed'));
    }, this.options.checkMs);
    this.timer.unref();
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking?.catch(() => undefined);
    await super.stop();
  }

  private async track(batch: RecordedEvent[], context: BatchContext): Promise<void> {
    const last = batch[batch.length - 1];
    if (!last) return;
    // Per order, in $all order: when it was placed, or null once it no longer awaits payment for good.
    const changes = new Map<string, string | null>();
    for (const record of batch) {
      if (!isOrderStream(record.streamId)) continue;
      if (record.type !== 'OrderPlaced' && record.type !== 'PaymentSucceeded' && record.type !== 'OrderCancelled') continue;
      const { event } = decodeOrderEvent(record);
      if (event.type === 'OrderPlaced') changes.set(event.data.orderId, event.data.placedAt);
      else changes.set(event.data.orderId, null);
    }
    await context.commit(last.position, async (trx) => {
      const placed = [...changes].flatMap(([order_id, placed_at]) => (placed_at === null ? [] : [{ order_id, placed_at }]));
      const settled = [...changes].flatMap(([orderId, placedAt]) => (placedAt === null ? [orderId] : []));
      if (placed.length > 0) await trx(DEADLINES_TABLE).insert(placed).onConflict('order_id').ignore();
      if (settled.length > 0) await trx(DEADLINES_TABLE).whereIn('order_id', settled).delete();
    });
  }

  /** Expires the orders whose window closed by `now` (at most maxPerCheck); returns how many it expired. */
  expireDue(now: Date): Promise<number> {
    const run = this.expireDueNow(now).finally(() => {
      this.checking = undefined;
    });
    this.checking = run;
    return run;
  }

  private async expireDueNow(now: Date): Promise<number> {
    const { knex, ttlMs } = this.options;
    const due = (await knex(DEADLINES_TABLE)
      .where('placed_at', '<=', new Date(now.getTime() - ttlMs))
      .orderBy('placed_at')
      .limit(this.options.maxPerCheck ?? 100)
      .select('order_id')) as { order_id: string }[];
    let expired = 0;
    for (const { order_id: orderId } of due) {
      if (this.runner.isStopping) break;
      try {
        if (await this.expire(orderId, now)) expired += 1;
      } catch (error) {
        // Left in the list: the next check tries again (a provider outage, a concurrent writer).
        this.options.logger.warn({ orderId, err: { code: (error as { code?: unknown }).code, message: (error as Error).message } }, 'order expiry postponed');
      }
    }
    return expired;
  }

  private async expire(orderId: string, now: Date): Promise<boolean> {
    const { store, knex, ttlMs, logger } = this.options;
    const stream = await loadOrder(store, orderId);
    if (stream.state.status === 'NONE') {
      await knex(DEADLINES_TABLE).where('order_id', orderId).delete();
      return false;
    }
    if (isAwaitingPayment(stream.state)) {
      if (Date.parse(stream.state.placedAt) + ttlMs > now.getTime()) return false;
      const outcome = await cancelOpenPayment(this.options.payments, stream.state, logger);
      // The provider took the money: its report pays the order, which then leaves the list.
      if (outcome === 'paid') return false;
    }
    const context = { actor: { type: 'system' as const, id: EXPIRY_REACTOR_NAME } };
    const result = await handleOrderCommand(
      store,
      orderId,
      { type: 'ExpireOrder', data: { ttlMs, now: now.toISOString() } },
      { idempotencySource: `expire-order:${orderId}`, context, loaded: stream },
    );
    await knex(DEADLINES_TABLE).where('order_id', orderId).delete();
    if (!result.unchanged) logger.info({ orderId }, 'order expired unpaid; its stock is released');
    return !result.unchanged;
  }
}

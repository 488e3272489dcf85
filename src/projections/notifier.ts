import { evolve, initialOrderState, type OrderState } from '../commands/order/orderDecider';
import { loadOrder } from '../commands/order/orderStream';
import { decodeOrderEvent, isOrderStream, type StoredOrderEvent } from '../events/codec';
import { occurredAt } from '../events/orderEvents';
import type { RecordedEvent } from '../infra/eventstore/eventStore';
import { SingletonSubscriber, subscriberDeps, SubscriberRole, type BatchContext, type SubscriberDeps, type SubscriberState } from '../infra/eventstore/singletonSubscriber';
import { emailKindFor } from './notifications/emailTemplates';
import { recordEmails } from '../infra/queue/emailOutbox';
import type { EmailJobData, EmailQueue } from '../infra/queue/emailQueue';
import { ADMINS_ROOM, orderRoom, userRoom } from '../infra/socket/socketEvents';
import { withTimeout } from '../infra/withTimeout';
import { noTracing, type EventSpans } from '../infra/tracing/eventTracing';
import type { ServerEventName, ServerEventPayload, SocketPublisher } from '../infra/socket/socketPublisher';

export const NOTIFIER_CHECKPOINT = 'notifier';

export type Push = { [E in ServerEventName]: { rooms: string[]; event: E; payload: ServerEventPayload<E> } }[ServerEventName];

export interface Notifications {
  pushes: Push[];
  email: EmailJobData | undefined;
}

/**
 * What one event announces, given the order's state before and after it. Admins hear of a new
 * order through orderCreated and of every later transition through orderUpdate; owners and
 * followers of the order get every transition.
 */
export function notificationsFor(stored: StoredOrderEvent, before: OrderState, after: OrderState): Notifications {
  const none: Notifications = { pushes: [], email: undefined };
  if (after.status === 'NONE') return none;
  const { event } = stored;
  const { orderId, userId } = after;
  const position = stored.position.toString();
  const followers = [userRoom(userId), orderRoom(orderId)];
  const everyone = [...followers, ADMINS_ROOM];
  const previousStatus = before.status === 'NONE' ? null : before.status;
  const pushes: Push[] = [];

  if (event.type === 'OrderPlaced') {
    const d = event.data;
    pushes.push({
      rooms: [ADMINS_ROOM],
      event: 'orderCreated',
      payload: { orderId, userId, status: after.status, totalAmount: d.totalAmount, currency: d.currency, placedAt: d.placedAt, position },
    });
  }
  if (previousStatus !== after.status) {
    pushes.push({
      rooms: event.type === 'OrderPlaced' ? followers : everyone,
      event: 'orderUpdate',
      payload: { orderId, status: after.status, previousStatus, updatedAt: occurredAt(event), position },
    });
  }
  if (event.type === 'PaymentSucceeded') {
    pushes.push({ rooms: everyone, event: 'paymentSuccess', payload: { orderId, amount: event.data.amount, currency: event.data.currency } });
  }
  if (event.type === 'PaymentFailed') {
    pushes.push({ rooms: everyone, event: 'paymentFailed', payload: { orderId, message: event.data.reason } });
  }
  const returnStatus = returnStatusOf(event);
  if (returnStatus) {
    pushes.push({
      rooms: everyone,
      event: 'returnUpdate',
      payload: { orderId, returnId: returnStatus.returnId, status: returnStatus.status, updatedAt: occurredAt(event), position },
    });
  }
  if (event.type === 'RefundSucceeded') {
    const d = event.data;
    pushes.push({
      rooms: everyone,
      event: 'refundUpdate',
      payload: { orderId, refundId: d.refundId ?? null, status: 'SUCCEEDED', amount: d.amount, currency: d.currency, position },
    });
  }
  if (event.type === 'RefundFailed') {
    pushes.push({ rooms: everyone, event: 'refundUpdate', payload: { orderId, refundId: event.data.refundId, status: 'FAILED', amount: null, currency: null, position } });
  }
  const kind = emailKindFor(event);
  return { pushes, email: kind ? { eventId: stored.id, orderId, kind } : undefined };
}

function returnStatusOf(event: StoredOrderEvent['event']): { returnId: string; status: 'REQUESTED' | 'APPROVED' | 'REJECTED' | 'RECEIVED' } | undefined {
  switch (event.type) {
    case 'ReturnRequested':
      return { returnId: event.data.returnId, status: 'REQUESTED' };
    case 'ReturnApproved':
      return { returnId: event.data.returnId, status: 'APPROVED' };
    case 'ReturnRejected':
      return { returnId: event.data.returnId, status: 'REJECTED' };
    case 'ReturnReceived':
      return { returnId: event.data.returnId, status: 'RECEIVED' };
    default:
      return undefined;
  }
}

export interface NotifierOptions extends SubscriberDeps {
  publisher: SocketPublisher;
  emails: Pick<EmailQueue, 'enqueueBatch'>;
  batchSize?: number;
  /** Bound on Redis acknowledging one batch's pushes and jobs. */
  publishTimeoutMs?: number;
}

export type NotifierState = SubscriberState;

const STATE_CACHE_LIMIT = 10_000;

/**
 * Turns events from $all into Socket.io pushes and emails. Its checkpoint moves only after a
 * batch's pushes reached Redis, so a crash re-delivers them (at least once). The emails a batch
 * owes are written to the outbox (email_sends) in the transaction that moves the checkpoint and
 * queued after it commits; a job lost after that (a crash before queueing, Redis losing its data)
 * is queued again by the outbox reconciler, and the worker's claims make any repeat harmless. One
 * active instance per deployment.
 */
export class Notifier extends SubscriberRole {
  protected readonly runner: SingletonSubscriber;
  /** Last known state per order, so a transition's previous status costs no stream read. */
  private readonly states = new Map<string, { revision: bigint; state: OrderState }>();

  constructor(private readonly options: NotifierOptions) {
    super();
    this.runner = new SingletonSubscriber({
      name: NOTIFIER_CHECKPOINT,
      ...subscriberDeps(options),
      maxBatchSize: options.batchSize ?? 200,
      // Cached states may be from before the checkpoint's events are read again: start afresh.
      onResume: () => this.states.clear(),
      // Batches that owe no email move only the checkpoint: written at most every 250 ms (a crash
      // pushes at most that much again, which at-least-once delivery allows).
      checkpointOnlyDelayMs: 250,
      handleBatch: (batch, context) => this.handleBatch(batch, context),
    });
  }

  private async handleBatch(batch: RecordedEvent[], context: BatchContext): Promise<void> {
    const spans = (this.options.tracing ?? noTracing).open('notify', batch);
    try {
      await spans.run(() => this.notify(batch, context, spans));
    } catch (error) {
      spans.end(error);
      throw error;
    }
    spans.end();
  }

  private async notify(batch: RecordedEvent[], context: BatchContext, spans: EventSpans): Promise<void> {
    const { publisher, emails } = this.options;
    const last = batch[batch.length - 1];
    if (!last) return;
    const pushes: Push[] = [];
    const jobs: EmailJobData[] = [];
    const pushSpans: Array<() => void> = [];
    for (const record of batch) {
      if (!isOrderStream(record.streamId)) continue;
      const stored = decodeOrderEvent(record);
      const before = await this.stateBefore(stored);
      const after = evolve(before, stored.event);
      this.remember(stored, after);
      const planned = notificationsFor(stored, before, after);
      if (planned.pushes.length > 0) {
        pushes.push(...planned.pushes);
        pushSpans.push(spans.child(record, 'socket.io push'));
      }
      if (planned.email) {
        // The send continues this event's trace (a job the outbox re-queues later starts its own).
        const carrier = spans.carrier(record);
        jobs.push(carrier.traceparent === undefined ? planned.email : { ...planned.email, ...carrier });
      }
    }
    const timeoutMs = this.options.publishTimeoutMs ?? 10_000;
    for (const push of pushes) publisher.emit(push.rooms, push.event, push.payload);
    if (pushes.length > 0) await publisher.flush(timeoutMs);
    for (const end of pushSpans) end();
    // The emails the batch owes go to the outbox with the checkpoint; queued once that has committed.
    await context.commit(last.position, jobs.length > 0 ? (trx) => recordEmails(trx, jobs) : undefined);
    if (jobs.length === 0) return;
    try {
      await withTimeout(emails.enqueueBatch(jobs), timeoutMs, 'queueing email jobs');
    } catch (error) {
      // The outbox holds them: the reconciler queues them at its next pass.
      this.options.logger.warn({ err: (error as Error).message, jobs: jobs.length }, 'email jobs not queued; the outbox reconciler will queue them');
    }
  }

  private async stateBefore(stored: StoredOrderEvent): Promise<OrderState> {
    if (stored.revision === 0n) return initialOrderState;
    const orderId = stored.event.data.orderId;
    const cached = this.states.get(orderId);
    if (cached && cached.revision === stored.revision - 1n) return cached.state;
    return (await loadOrder(this.options.store, orderId, { maxCount: Number(stored.revision) })).state;
  }

  private remember(stored: StoredOrderEvent, state: OrderState): void {
    const orderId = stored.event.data.orderId;
    this.states.delete(orderId);
    this.states.set(orderId, { revision: stored.revision, state });
    if (this.states.size > STATE_CACHE_LIMIT) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }
}

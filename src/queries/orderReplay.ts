import type { OrderState } from '../commands/order/orderDecider';
import { foldOrderEvents, loadOrder, type FoldedOrder, type FoldStep } from '../commands/order/orderStream';
import type { StoredOrderEvent } from '../events/codec';
import { occurredAt, type Actor, type OrderEvent } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';

/**
 * The audit replay shared by `order-ledger audit replay` and `GET /orders/:id/timeline`: an order's
 * stream folded by the one fold (commands/order/orderStream.ts), one step per event, from the event
 * store alone.
 */

/** One folded event: the state the decider held before it and after it. */
export interface ReplayStep {
  stored: StoredOrderEvent;
  before: OrderState;
  after: OrderState;
  /** When it happened, as the event says (placedAt, succeededAt, …). */
  time: string;
  actor: Required<Pick<Actor, 'type'>> & { id: string | null };
  /** One line saying what the event carried (amounts, provider, reason). */
  detail: string;
}

export function describeOrderEvent(event: OrderEvent): string {
  switch (event.type) {
    case 'OrderPlaced':
      return `${event.data.items.length} item(s), total ${event.data.totalAmount} ${event.data.currency}, pay by ${event.data.paymentMethod}`;
    case 'PaymentInitiated':
      return `${event.data.provider} ${event.data.providerReference}, ${event.data.amount} ${event.data.currency}`;
    case 'PaymentSucceeded':
      return `${event.data.provider}${event.data.providerReference ? ` ${event.data.providerReference}` : ''}, ${event.data.amount} ${event.data.currency}`;
    case 'PaymentFailed':
      return `${event.data.provider}: ${event.data.reason}`;
    case 'OrderStatusChanged':
      return `${event.data.from} to ${event.data.to}`;
    case 'OrderCancelled':
      return event.data.reason ?? '';
    case 'RefundRequested':
      return `${event.data.amount} ${event.data.currency} via ${event.data.provider}${event.data.reason ? `: ${event.data.reason}` : ''}`;
    case 'OrderRefunded':
      return `${event.data.amount} ${event.data.currency} via ${event.data.provider}`;
    case 'StrayPaymentRefunded':
      return `${event.data.amount} ${event.data.currency} of stray payment ${event.data.paymentReference} given back via ${event.data.provider}`;
    case 'PartialRefundRequested':
      return `refund ${event.data.refundId}: ${event.data.amount} ${event.data.currency} via ${event.data.provider}${event.data.lines ? ` for ${event.data.lines.map((l) => `${l.quantity} × ${l.productId}`).join(', ')}` : ''}: ${event.data.reason}`;
    case 'RefundRetryRequested':
      return `refund ${event.data.refundId} retried: ${event.data.amount} ${event.data.currency}`;
    case 'RefundSucceeded':
      return `${event.data.refundId ? `refund ${event.data.refundId}` : 'refund by the provider'}: ${event.data.amount} ${event.data.currency} given back via ${event.data.provider}, ${event.data.refundedAmount} ${event.data.currency} in all`;
    case 'RefundFailed':
      return `refund ${event.data.refundId} refused by ${event.data.provider}: ${event.data.reason}`;
    case 'ReturnRequested':
      return `return ${event.data.returnId}: ${event.data.lines.map((l) => `${l.quantity} × ${l.productId}`).join(', ')}: ${event.data.reason}`;
    case 'ReturnApproved':
      return `return ${event.data.returnId} approved`;
    case 'ReturnRejected':
      return `return ${event.data.returnId} rejected: ${event.data.reason}`;
    case 'ReturnReceived':
      return `return ${event.data.returnId} received: ${event.data.lines.map((l) => `${l.quantity} × ${l.productId}${l.damaged ? ' (damaged)' : ''}`).join(', ')}`;
    case 'CustomerDataErased':
      return 'personal data erased (data key destroyed)';
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

// Same default as the order_history read model: no recorded actor means the system did it.
function actorOf(stored: StoredOrderEvent): ReplayStep['actor'] {
  const actor = stored.metadata.actor;
  return { type: actor?.type ?? 'system', id: actor?.id ?? null };
}

/** A fold step as the audit shows it: when, who, and what the event carried. */
export function replayStep(step: FoldStep): ReplayStep {
  return { ...step, time: occurredAt(step.stored.event), actor: actorOf(step.stored), detail: describeOrderEvent(step.stored.event) };
}

export interface OrderReplay extends FoldedOrder {
  steps: ReplayStep[];
}

/** Replays decoded events with the one fold while `include` accepts them (a prefix of the stream). */
export function replayOrderSteps(orderId: string, events: readonly StoredOrderEvent[], include?: (stored: StoredOrderEvent) => boolean): OrderReplay {
  const steps: ReplayStep[] = [];
  const folded = foldOrderEvents(orderId, events, { ...(include ? { include } : {}), onStep: (step) => steps.push(replayStep(step)) });
  return { ...folded, steps };
}

/** Reads an order's stream from the event store and replays it, one step per event (one read, one fold). */
export async function loadOrderReplay(store: EventStore, orderId: string, include?: (stored: StoredOrderEvent) => boolean): Promise<OrderReplay> {
  const steps: ReplayStep[] = [];
  const folded = await loadOrder(store, orderId, { ...(include ? { include } : {}), onStep: (step) => steps.push(replayStep(step)) });
  return { ...folded, steps };
}

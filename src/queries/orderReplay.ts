import { evolve, initialOrderState, type OrderState } from '../commands/order/orderDecider';
import { decodeOrderEvent, orderStreamId, type StoredOrderEvent } from '../events/codec';
import { occurredAt, type Actor, type OrderEvent } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';

/**
 * The audit fold shared by `order-ledger audit replay` and `GET /orders/:id/timeline`: an order's
 * stream folded with the decider's own `evolve`, one step per event, from the event store alone.
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

/**
 * Folds events in stream order (as the command handler does) while `include` accepts them; stops at
 * the first event it refuses, so the result is always a prefix of the stream.
 */
export function foldOrderEvents(
  events: readonly StoredOrderEvent[],
  include: (stored: StoredOrderEvent) => boolean = () => true,
): { steps: ReplayStep[]; state: OrderState; revision: bigint; laterEvents: number } {
  let state: OrderState = initialOrderState;
  let revision = -1n;
  const steps: ReplayStep[] = [];
  let index = 0;
  for (; index < events.length; index++) {
    const stored = events[index]!;
    if (!include(stored)) break;
    const before = state;
    state = evolve(state, stored.event);
    revision = stored.revision;
    steps.push({ stored, before, after: state, time: occurredAt(stored.event), actor: actorOf(stored), detail: describeOrderEvent(stored.event) });
  }
  return { steps, state, revision, laterEvents: events.length - index };
}

const STREAM_PAGE = 1000;

/** Reads an order's whole stream from the event store (empty when it does not exist). */
export async function loadOrderEvents(store: EventStore, orderId: string): Promise<StoredOrderEvent[]> {
  const streamId = orderStreamId(orderId);
  const events: StoredOrderEvent[] = [];
  // Pages end short at the stream's end; each page moves fromRevision forward, so this is bounded.
  for (let from = 0n; ; ) {
    const page = await store.readStream(streamId, { fromRevision: from, maxCount: STREAM_PAGE });
    for (const record of page) events.push(decodeOrderEvent(record));
    if (page.length < STREAM_PAGE) break;
    from = page[page.length - 1]!.revision + 1n;
  }
  return events;
}

import { evolve, initialOrderState, type OrderState } from '../commands/order/orderDecider';
import { decodeOrderEvent, orderStreamId, type StoredOrderEvent } from '../events/codec';
import { occurredAt, type OrderEvent } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';
import { CliFailure } from './output';

/** The moment to replay to: the end of the stream, an event time, or a global position. */
export type Moment = { kind: 'end' } | { kind: 'at'; at: string } | { kind: 'position'; position: bigint };

export interface TimelineEntry {
  position: bigint;
  revision: bigint;
  /** When it happened, as the event says (placedAt, succeededAt, …). */
  time: string;
  /** When the store recorded it. */
  recordedAt: string;
  type: OrderEvent['type'];
  actor: string;
  statusBefore: OrderState['status'];
  statusAfter: OrderState['status'];
  detail: string;
}

export interface OrderReplay {
  orderId: string;
  streamId: string;
  moment: Moment;
  timeline: TimelineEntry[];
  /** Events after the moment, not folded. */
  laterEvents: number;
  state: OrderState;
  /** Revision of the last folded event, -1 when none. */
  revision: bigint;
}

function describe(event: OrderEvent): string {
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

function actorOf(stored: StoredOrderEvent): string {
  const actor = stored.metadata.actor;
  // Same default as the order_history read model: no recorded actor means the system did it.
  if (!actor) return 'system';
  return actor.id ? `${actor.type}:${actor.id}` : actor.type;
}

function includes(moment: Moment, stored: StoredOrderEvent): boolean {
  switch (moment.kind) {
    case 'end':
      return true;
    case 'at':
      return Date.parse(occurredAt(stored.event)) <= Date.parse(moment.at);
    case 'position':
      return stored.position <= moment.position;
    default: {
      const exhaustive: never = moment;
      return exhaustive;
    }
  }
}

/**
 * Folds an order's events with the decider's `evolve` up to a moment: the stream's prefix before the
 * first event past it (events are folded in revision order, as the command handler folds them).
 */
export function replayOrderEvents(orderId: string, events: readonly StoredOrderEvent[], moment: Moment): OrderReplay {
  let state: OrderState = initialOrderState;
  let revision = -1n;
  const timeline: TimelineEntry[] = [];
  let index = 0;
  for (; index < events.length; index++) {
    const stored = events[index]!;
    if (!includes(moment, stored)) break;
    const before = state.status;
    state = evolve(state, stored.event);
    revision = stored.revision;
    timeline.push({
      position: stored.position,
      revision: stored.revision,
      time: occurredAt(stored.event),
      recordedAt: stored.createdAt,
      type: stored.event.type,
      actor: actorOf(stored),
      statusBefore: before,
      statusAfter: state.status,
      detail: describe(stored.event),
    });
  }
  return { orderId, streamId: orderStreamId(orderId), moment, timeline, laterEvents: events.length - index, state, revision };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STREAM_PAGE = 1000;

/** Accepts the order id or its stream id (`order-<uuid>`). */
export function parseOrderId(value: string): string {
  const id = value.startsWith('order-') ? value.slice('order-'.length) : value;
  if (!UUID.test(id)) throw new CliFailure(`"${value}" is not an order id (a UUID, or order-<uuid>)`);
  return id.toLowerCase();
}

/** Reads the order's stream from the event store alone: the read models may be empty or gone. */
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
  if (events.length === 0) throw new CliFailure(`order ${orderId} not found in the event store`);
  return events;
}

function pad(value: string, width: number): string {
  return value.length >= width ? value : value + ' '.repeat(width - value.length);
}

const statusLabel = (status: OrderState['status']): string => (status === 'NONE' ? '(none)' : status);

export function momentLabel(moment: Moment): string {
  switch (moment.kind) {
    case 'end':
      return 'now';
    case 'at':
      return moment.at;
    case 'position':
      return `position ${moment.position}`;
    default: {
      const exhaustive: never = moment;
      return exhaustive;
    }
  }
}

/** The human-readable report: one line per event, then the folded state. */
export function formatReplay(replay: OrderReplay): string[] {
  const lines = [`order ${replay.orderId} (stream ${replay.streamId}) at ${momentLabel(replay.moment)}`];
  const rows = replay.timeline.map((entry) => [
    entry.position.toString(),
    `r${entry.revision}`,
    entry.time,
    entry.type,
    entry.actor,
    `${statusLabel(entry.statusBefore)} -> ${statusLabel(entry.statusAfter)}`,
    entry.detail,
  ]);
  const header = ['position', 'rev', 'time', 'event', 'actor', 'status', 'detail'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const render = (row: string[]): string => row.map((cell, column) => (column === row.length - 1 ? cell : pad(cell, widths[column]!))).join('  ').trimEnd();
  lines.push(render(header), ...rows.map(render));
  if (replay.timeline.length === 0) lines.push('(no events up to this moment: the order did not exist yet)');
  if (replay.laterEvents > 0) lines.push(`(${replay.laterEvents} later event(s) not folded)`);
  lines.push('', 'state:');
  const state = replay.state;
  if (state.status === 'NONE') {
    lines.push('  status: (none)');
    return lines;
  }
  lines.push(
    `  status: ${state.status}`,
    `  user: ${state.userId}`,
    `  total: ${state.totalAmount} ${state.currency}`,
    `  payment method: ${state.paymentMethod}`,
    `  payment reference: ${state.paymentReference ?? '-'}`,
    `  paid: ${state.paidAmount} ${state.currency}`,
    `  refund requested: ${state.refundRequested ? 'yes' : 'no'}`,
    `  revision: ${replay.revision}`,
  );
  return lines;
}

export function parseMoment(options: { at?: string; position?: string }): Moment {
  if (options.at !== undefined && options.position !== undefined) throw new CliFailure('give --at or --position, not both');
  if (options.at !== undefined) {
    // Without an offset JavaScript would read a date-time as local time; the ledger is UTC.
    const text = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(options.at) ? `${options.at}Z` : options.at;
    const ms = Date.parse(text);
    if (!/^\d{4}-\d{2}-\d{2}/.test(options.at) || Number.isNaN(ms)) throw new CliFailure(`--at "${options.at}" is not an ISO-8601 time`);
    return { kind: 'at', at: new Date(ms).toISOString() };
  }
  if (options.position !== undefined) {
    if (!/^\d+$/.test(options.position)) throw new CliFailure(`--position "${options.position}" is not a non-negative integer`);
    return { kind: 'position', position: BigInt(options.position) };
  }
  return { kind: 'end' };
}

import type { OrderState } from '../commands/order/orderDecider';
import { orderIdFromStream, orderStreamId, type StoredOrderEvent } from '../events/codec';
import { occurredAt, type OrderEvent } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';
import { loadOrderReplay, replayOrderSteps, type OrderReplay as FoldedReplay } from '../queries/orderReplay';
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
  return toReplay(
    replayOrderSteps(orderId, events, (stored) => includes(moment, stored)),
    moment,
  );
}

/** Reads the order's stream from the event store alone (the read models may be empty or gone) and replays it to the moment. */
export async function replayOrder(store: EventStore, orderId: string, moment: Moment): Promise<OrderReplay> {
  const replay = await loadOrderReplay(store, orderId, (stored) => includes(moment, stored));
  if (replay.events.length + replay.laterEvents === 0) throw new CliFailure(`order ${orderId} not found in the event store`);
  return toReplay(replay, moment);
}

function toReplay({ orderId, steps, state, revision, laterEvents }: FoldedReplay, moment: Moment): OrderReplay {
  const timeline = steps.map((step): TimelineEntry => ({
    position: step.stored.position,
    revision: step.stored.revision,
    time: step.time,
    recordedAt: step.stored.createdAt,
    type: step.stored.event.type,
    actor: step.actor.id ? `${step.actor.type}:${step.actor.id}` : step.actor.type,
    statusBefore: step.before.status,
    statusAfter: step.after.status,
    detail: step.detail,
  }));
  return { orderId, streamId: orderStreamId(orderId), moment, timeline, laterEvents, state, revision };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Accepts the order id or its stream id (`order-<uuid>`). */
export function parseOrderId(value: string): string {
  const id = orderIdFromStream(value) ?? value;
  if (!UUID.test(id)) throw new CliFailure(`"${value}" is not an order id (a UUID, or order-<uuid>)`);
  return id.toLowerCase();
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
  const render = (row: string[]): string =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : pad(cell, widths[column]!)))
      .join('  ')
      .trimEnd();
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

import { loadStock } from '../commands/stock/stockStream';
import { evolveStock, initialStockState, type StockState } from '../commands/stock/stockDecider';
import { productIdFromStream, stockStreamId } from '../events/stockCodec';
import { stockOccurredAt, type StockEvent } from '../events/stockEvents';
import type { EventStore } from '../infra/eventstore/eventStore';
import { CliFailure } from './output';
import type { Moment } from './replay';

export interface StockTimelineEntry {
  position: bigint;
  revision: bigint;
  time: string;
  type: StockEvent['type'];
  actor: string;
  onHand: number;
  reserved: number;
  detail: string;
}

export interface StockReplay {
  productId: string;
  streamId: string;
  timeline: StockTimelineEntry[];
  laterEvents: number;
  state: StockState;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `stock-<productId>` names a product's stock stream; anything else is not a stock replay. */
export function parseStockStream(value: string): string | undefined {
  const id = productIdFromStream(value);
  if (id === undefined) return undefined;
  if (!UUID.test(id)) throw new CliFailure(`"${value}" is not a stock stream (stock-<product uuid>)`);
  return id.toLowerCase();
}

function detailOf(event: StockEvent): string {
  switch (event.type) {
    case 'StockTrackingStarted':
      return 'stock counted from here';
    case 'StockReceived':
      return `+${event.data.quantity} received`;
    case 'StockAdjusted':
      return `${event.data.delta > 0 ? '+' : ''}${event.data.delta} (${event.data.reason})`;
    case 'StockReserved':
      return `${event.data.quantity} for order ${event.data.orderId}`;
    case 'StockReleased':
      return `${event.data.quantity} of order ${event.data.orderId} (${event.data.reason})`;
    case 'StockCommitted':
      return `${event.data.quantity} sold to order ${event.data.orderId}`;
    case 'StockReturned':
      return `+${event.data.quantity} back from order ${event.data.orderId}`;
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

/** A product's stock stream folded up to a moment, from the event store alone. */
export async function replayStock(store: EventStore, productId: string, moment: Moment): Promise<StockReplay> {
  const stream = await loadStock(store, productId);
  if (stream.events.length === 0) throw new CliFailure(`no stock stream for product ${productId} (untracked)`);
  let state: StockState = initialStockState;
  const timeline: StockTimelineEntry[] = [];
  for (const stored of stream.events) {
    const time = stockOccurredAt(stored.event);
    const included = moment.kind === 'end' || (moment.kind === 'at' ? Date.parse(time) <= Date.parse(moment.at) : stored.position <= moment.position);
    if (!included) break;
    state = evolveStock(state, stored.event);
    const actor = stored.metadata.actor;
    timeline.push({
      position: stored.position,
      revision: stored.revision,
      time,
      type: stored.event.type,
      actor: actor ? (actor.id ? `${actor.type}:${actor.id}` : actor.type) : '-',
      onHand: state.tracked ? state.onHand : 0,
      reserved: state.tracked ? state.reserved : 0,
      detail: detailOf(stored.event),
    });
  }
  return { productId, streamId: stockStreamId(productId), timeline, laterEvents: stream.events.length - timeline.length, state };
}

export function formatStockReplay(replay: StockReplay): string[] {
  const header = ['position', 'rev', 'time', 'event', 'actor', 'on hand', 'reserved', 'detail'];
  const rows = replay.timeline.map((e) => [e.position.toString(), `r${e.revision}`, e.time, e.type, e.actor, String(e.onHand), String(e.reserved), e.detail]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const render = (row: string[]): string =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  const lines = [`stock of product ${replay.productId} (stream ${replay.streamId})`, render(header), ...rows.map(render)];
  if (replay.laterEvents > 0) lines.push(`(${replay.laterEvents} later event(s) not folded)`);
  const { state } = replay;
  lines.push('', 'state:');
  if (!state.tracked) lines.push('  untracked');
  else lines.push(`  on hand: ${state.onHand}`, `  reserved: ${state.reserved}`, `  available: ${state.onHand - state.reserved}`);
  return lines;
}

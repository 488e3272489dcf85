import { isDeepStrictEqual } from 'node:util';
import { readStockEvents } from '../commands/stock/stockStream';
import { foldStock, initialStockState, type StockState } from '../commands/stock/stockDecider';
import { parseStockSnapshotState, STOCK_SNAPSHOT_SCHEMA } from '../commands/stock/stockSnapshot';
import type { StoredStockEvent } from '../events/stockCodec';
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
  /** The stream's stock snapshot checked against the fold of its events (undefined: none stored). */
  snapshot: SnapshotCheck | undefined;
}

/**
 * `agrees`: the snapshot equals the fold of the events up to its revision. `stale`: its event is no
 * longer at its revision (readers ignore it). `unreadable`: its state is not a stock state (readers
 * ignore it). `differs`: it matches the stream but not the fold: a reader would start from a wrong
 * state, so the audit fails.
 */
export interface SnapshotCheck {
  revision: bigint;
  verdict: 'agrees' | 'stale' | 'unreadable' | 'differs';
}

/** Snapshots are a cache: the one stored must be the fold of the events it claims to cover. */
async function checkSnapshot(store: EventStore, productId: string, events: readonly StoredStockEvent[]): Promise<SnapshotCheck | undefined> {
  const snapshot = await store.snapshots.load(stockStreamId(productId), STOCK_SNAPSHOT_SCHEMA);
  if (!snapshot) return undefined;
  const { revision } = snapshot;
  const at = events.find((stored) => stored.revision === revision);
  if (!at || at.id.toLowerCase() !== snapshot.eventId.toLowerCase()) return { revision, verdict: 'stale' };
  const state = parseStockSnapshotState(snapshot.state);
  if (!state) return { revision, verdict: 'unreadable' };
  const folded = foldStock(
    initialStockState,
    events.filter((stored) => stored.revision <= revision).map((stored) => stored.event),
  );
  return { revision, verdict: isDeepStrictEqual(folded, state) ? 'agrees' : 'differs' };
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

/** A product's stock stream folded up to a moment, from the event store alone (never from a snapshot, which it checks). */
export async function replayStock(store: EventStore, productId: string, moment: Moment): Promise<StockReplay> {
  const events = await readStockEvents(store, productId);
  if (events.length === 0) throw new CliFailure(`no stock stream for product ${productId} (untracked)`);
  const includedUpTo = events.findIndex((stored) => {
    const time = stockOccurredAt(stored.event);
    return !(moment.kind === 'end' || (moment.kind === 'at' ? Date.parse(time) <= Date.parse(moment.at) : stored.position <= moment.position));
  });
  const included = includedUpTo === -1 ? events : events.slice(0, includedUpTo);
  const timeline: StockTimelineEntry[] = [];
  const state = foldStock(
    initialStockState,
    included.map((stored) => stored.event),
    (after) => {
      const stored = included[timeline.length]!;
      const actor = stored.metadata.actor;
      timeline.push({
        position: stored.position,
        revision: stored.revision,
        time: stockOccurredAt(stored.event),
        type: stored.event.type,
        actor: actor ? (actor.id ? `${actor.type}:${actor.id}` : actor.type) : '-',
        onHand: after.tracked ? after.onHand : 0,
        reserved: after.tracked ? after.reserved : 0,
        detail: detailOf(stored.event),
      });
    },
  );
  const snapshot = await checkSnapshot(store, productId, events);
  return { productId, streamId: stockStreamId(productId), timeline, laterEvents: events.length - timeline.length, state, snapshot };
}

const snapshotVerdicts: Record<SnapshotCheck['verdict'], string> = {
  agrees: 'agrees with the fold of the events',
  stale: 'no longer matches the stream (ignored by readers)',
  unreadable: 'not a stock state (ignored by readers)',
  differs: 'DIFFERS from the fold of the events',
};

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
  const { snapshot } = replay;
  if (snapshot) lines.push('', `snapshot at r${snapshot.revision}: ${snapshotVerdicts[snapshot.verdict]}`);
  return lines;
}

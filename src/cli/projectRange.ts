import type { Knex } from 'knex';
import { decodeOrderRecords } from '../commands/order/orderStream';
import { decodeStockRecords } from '../commands/stock/stockStream';
import type { StoredOrderEvent } from '../events/codec';
import type { EventStore, RecordedEvent } from '../infra/eventstore/eventStore';
import type { Projection } from '../projections/projection';

/** Per projection: apply events with `after < position <= upTo`. */
export interface ProjectionRange {
  projection: Projection;
  after: bigint;
  upTo: bigint;
}

export interface ProjectRangeOptions {
  store: EventStore;
  ranges: readonly ProjectionRange[];
  /** Where the projections write: lets a rebuild or a verification use tables other than the live ones. */
  tableOf: (table: string) => string;
  /** Runs one page's writes in one transaction (or in a transaction the caller already holds). */
  inTransaction: (work: (trx: Knex.Transaction) => Promise<void>) => Promise<void>;
  batchSize: number;
  /** Runs inside the page's transaction after the projections, with the page's order events. */
  onPage?: (trx: Knex.Transaction, orderEvents: readonly StoredOrderEvent[]) => Promise<void>;
  /** Events read from $all so far (order and other streams), after each page. */
  onProgress?: (eventsRead: number) => void;
}

export interface ProjectRangeResult {
  /** Events read from $all, of any stream. */
  eventsRead: number;
  /** Order events among them. */
  orderEvents: number;
  /** Position of the last event read, or the start when nothing was read. */
  lastPosition: bigint;
}

/**
 * Reads $all page by page and hands each projection the order events inside its range, through the
 * same `apply` the live projector runs, so rebuilt and verified tables cannot drift from it.
 * Ends at the highest `upTo` or when $all has nothing more to give.
 */
export async function projectRange(options: ProjectRangeOptions): Promise<ProjectRangeResult> {
  const { store, ranges, tableOf, batchSize } = options;
  if (ranges.length === 0) return { eventsRead: 0, orderEvents: 0, lastPosition: -1n };
  let position = ranges.reduce((low, r) => (r.after < low ? r.after : low), ranges[0]!.after);
  const end = ranges.reduce((high, r) => (r.upTo > high ? r.upTo : high), ranges[0]!.upTo);
  let eventsRead = 0;
  let orderEvents = 0;
  // The next page is read while this one is written (one page ahead at most): the database reads
  // while this process computes and writes.
  let ahead: Promise<RecordedEvent[]> | undefined;
  const readAfter = (after: bigint): Promise<RecordedEvent[]> => {
    const read = store.readAll({ after, limit: batchSize });
    // Awaited by the next turn; a read left behind by a failed page must not surface as unhandled.
    read.catch(() => undefined);
    return read;
  };
  // Positions strictly increase page after page and stop at `end`, so the loop is bounded.
  while (position < end) {
    const page = await (ahead ?? readAfter(position));
    ahead = undefined;
    if (page.length === 0) break;
    const inRange = page.filter((record) => record.position <= end);
    const last = inRange[inRange.length - 1]?.position ?? position;
    if (inRange.length === page.length && last < end) ahead = readAfter(last);
    // The same decoding as the projector: order and stock streams feed the read models.
    const decoded = await decodeOrderRecords(store, inRange);
    const stock = decodeStockRecords(inRange);
    if (decoded.length > 0 || stock.length > 0) {
      await options.inTransaction(async (trx) => {
        for (const range of ranges) {
          const within = (e: { position: bigint }): boolean => e.position > range.after && e.position <= range.upTo;
          const pending = decoded.filter(within);
          if (pending.length > 0) await range.projection.apply(trx, pending, tableOf);
          const pendingStock = range.projection.applyStock ? stock.filter(within) : [];
          if (pendingStock.length > 0) await range.projection.applyStock?.(trx, pendingStock, tableOf);
        }
        await options.onPage?.(trx, decoded);
      });
    }
    eventsRead += inRange.length;
    orderEvents += decoded.length;
    position = last;
    options.onProgress?.(eventsRead);
    if (inRange.length < page.length) break;
  }
  return { eventsRead, orderEvents, lastPosition: position };
}

import type { Knex } from 'knex';
import { decodeOrderRecords } from '../commands/order/orderStream';
import { decodeStockRecords } from '../commands/stock/stockStream';
import type { StoredOrderEvent } from '../events/codec';
import type { EventStore } from '../infra/eventstore/eventStore';
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
  // Positions strictly increase page after page and stop at `end`, so the loop is bounded.
  while (position < end) {
    const page = await store.readAll({ after: position, limit: batchSize });
    if (page.length === 0) break;
    // The same decoding as the projector: order and stock streams feed the read models.
    const decoded = await decodeOrderRecords(
      store,
      page.filter((record) => record.position <= end),
    );
    const stock = decodeStockRecords(page.filter((record) => record.position <= end));
    if (decoded.length > 0 || stock.length > 0) {
      await options.inTransaction(async (trx) => {
        for (const range of ranges) {
          const inRange = (e: { position: bigint }): boolean => e.position > range.after && e.position <= range.upTo;
          const pending = decoded.filter(inRange);
          if (pending.length > 0) await range.projection.apply(trx, pending, tableOf);
          const pendingStock = range.projection.applyStock ? stock.filter(inRange) : [];
          if (pendingStock.length > 0) await range.projection.applyStock?.(trx, pendingStock, tableOf);
        }
        await options.onPage?.(trx, decoded);
      });
    }
    const inRange = page.filter((record) => record.position <= end);
    eventsRead += inRange.length;
    orderEvents += decoded.length;
    position = inRange[inRange.length - 1]?.position ?? position;
    options.onProgress?.(eventsRead);
    if (inRange.length < page.length) break;
  }
  return { eventsRead, orderEvents, lastPosition: position };
}

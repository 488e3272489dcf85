import type { StoredStockEvent } from '../events/stockCodec';
import { stockOccurredAt, type StockEvent } from '../events/stockEvents';
import type { Projection } from './projection';

/** A `product_stock` row (counts and positions as decimal strings, as PostgreSQL returns bigints). */
export interface StockRowValues {
  product_id: string;
  on_hand: string;
  reserved: string;
  revision: string;
  position: string;
  updated_at: string;
}

function countsAfter(event: StockEvent, onHand: number, reserved: number): { onHand: number; reserved: number } {
  switch (event.type) {
    case 'StockTrackingStarted':
      return { onHand, reserved };
    case 'StockReceived':
      return { onHand: onHand + event.data.quantity, reserved };
    case 'StockAdjusted':
      return { onHand: onHand + event.data.delta, reserved };
    case 'StockReserved':
      return { onHand, reserved: reserved + event.data.quantity };
    case 'StockReleased':
      return { onHand, reserved: reserved - event.data.quantity };
    case 'StockCommitted':
      return { onHand: onHand - event.data.quantity, reserved: reserved - event.data.quantity };
    case 'StockReturned':
      return { onHand: onHand + event.data.quantity, reserved };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

/** The row after one event. Pure; events at or below the row's revision change nothing (replays are no-ops). */
export function applyToStockRow(row: StockRowValues | undefined, stored: StoredStockEvent): StockRowValues | undefined {
  if (row && BigInt(row.revision) >= stored.revision) return row;
  if (!row && stored.event.type !== 'StockTrackingStarted') return undefined;
  const { onHand, reserved } = countsAfter(stored.event, Number(row?.on_hand ?? 0), Number(row?.reserved ?? 0));
  return {
    product_id: stored.event.data.productId,
    on_hand: String(onHand),
    reserved: String(reserved),
    revision: stored.revision.toString(),
    position: stored.position.toString(),
    updated_at: stockOccurredAt(stored.event),
  };
}

interface StoredStockRow {
  product_id: string;
  on_hand: string;
  reserved: string;
  revision: string;
  position: string;
  updated_at: Date;
}

/** Stock per tracked product (a product without a row is untracked). One read and one upsert per batch. */
export const stockProjection: Projection = {
  name: 'product_stock',
  tables: ['product_stock'],
  async apply() {
    // Order events do not move stock; the stock streams say everything.
  },
  async applyStock(trx, events, tableOf = (t) => t) {
    const table = tableOf('product_stock');
    const ids = [...new Set(events.map((e) => e.event.data.productId))];
    const existing = (await trx(table).whereIn('product_id', ids).forUpdate().select('*')) as StoredStockRow[];
    const rows = new Map<string, StockRowValues>(existing.map((row) => [row.product_id, { ...row, updated_at: row.updated_at.toISOString() }]));
    const touched = new Set<string>();
    for (const stored of events) {
      const id = stored.event.data.productId;
      const before = rows.get(id);
      const after = applyToStockRow(before, stored);
      if (after && after !== before) {
        rows.set(id, after);
        touched.add(id);
      }
    }
    if (touched.size === 0) return;
    await trx(table)
      .insert([...touched].map((id) => rows.get(id)!))
      .onConflict('product_id')
      .merge(['on_hand', 'reserved', 'revision', 'position', 'updated_at'])
      .whereRaw(`${trx.raw('??', [table]).toQuery()}.revision < excluded.revision`);
  },
};

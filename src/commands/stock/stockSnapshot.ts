import { z } from 'zod';
import type { Reservation, StockState } from './stockDecider';

/**
 * Which fold a stock snapshot holds. Bump it whenever `evolveStock` or `StockState` changes what a
 * stream folds to: snapshots of the old fold are then ignored (each stream is folded from its
 * start once, and snapshotted again), never mixed with the new one.
 */
export const STOCK_SNAPSHOT_SCHEMA = 'stock-state/1';

const stockCountsSchema = z.discriminatedUnion('tracked', [
  z.object({ tracked: z.literal(false) }).strict(),
  z
    .object({
      tracked: z.literal(true),
      productId: z.string(),
      onHand: z.number().int(),
      reserved: z.number().int(),
      // Checked below, entry by entry: a zod record would copy every one.
      reservations: z.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value)),
    })
    .strict(),
]);

const statuses: ReadonlySet<unknown> = new Set<Reservation['status']>(['RESERVED', 'RELEASED', 'COMMITTED']);

/** One reservation as the fold writes it; checked by hand, since a snapshot holds one per order ever placed (zod: ~6 µs each). */
function isReservation(value: unknown): value is Reservation {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return Object.keys(r).length === 3 && Number.isInteger(r.quantity) && statuses.has(r.status) && Number.isInteger(r.returned);
}

/** A snapshot's state as the fold made it; undefined when it is not one (written by a broken or foreign writer): fold from the start. */
export function parseStockSnapshotState(state: unknown): StockState | undefined {
  const parsed = stockCountsSchema.safeParse(state);
  if (!parsed.success) return undefined;
  if (!parsed.data.tracked) return parsed.data;
  const { reservations } = parsed.data;
  for (const orderId in reservations) if (!isReservation(reservations[orderId])) return undefined;
  return { ...parsed.data, reservations: reservations as Record<string, Reservation> };
}

import { z } from 'zod';
import type { StockState } from './stockDecider';

/**
 * Which fold a stock snapshot holds. Bump it whenever `evolveStock` or `StockState` changes what a
 * stream folds to: snapshots of the old fold are then ignored (each stream is folded from its
 * start once, and snapshotted again), never mixed with the new one.
 */
export const STOCK_SNAPSHOT_SCHEMA = 'stock-state/1';

const reservationSchema = z
  .object({
    quantity: z.number().int(),
    status: z.enum(['RESERVED', 'RELEASED', 'COMMITTED']),
    returned: z.number().int(),
  })
  .strict();

const stockStateSchema = z.discriminatedUnion('tracked', [
  z.object({ tracked: z.literal(false) }).strict(),
  z
    .object({
      tracked: z.literal(true),
      productId: z.string(),
      onHand: z.number().int(),
      reserved: z.number().int(),
      reservations: z.record(z.string(), reservationSchema),
    })
    .strict(),
]);

/** A snapshot's state as the fold made it; undefined when it is not one (written by a broken or foreign writer): fold from the start. */
export function parseStockSnapshotState(state: unknown): StockState | undefined {
  const parsed = stockStateSchema.safeParse(state);
  return parsed.success ? parsed.data : undefined;
}

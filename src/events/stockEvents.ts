import { z } from 'zod';
import { isoTimeSchema } from './valueSchemas';

const uuid = z.uuid();
const quantity = z.number().int().min(1).max(1_000_000_000);
const reason = z.string().min(1).max(500);

/** The product's stock is counted from now on (before it, the product is untracked: unlimited). */
export const stockTrackingStartedSchema = z.object({ productId: uuid, startedAt: isoTimeSchema });

export const stockReceivedSchema = z.object({ productId: uuid, quantity, receivedAt: isoTimeSchema });

/** A correction of on hand (count, damage, loss), never below what is reserved. */
export const stockAdjustedSchema = z.object({
  productId: uuid,
  delta: z
    .number()
    .int()
    .min(-1_000_000_000)
    .max(1_000_000_000)
    .refine((d) => d !== 0, 'delta must not be 0'),
  reason,
  adjustedAt: isoTimeSchema,
});

/** Units held for an order awaiting payment, appended with its OrderPlaced. */
export const stockReservedSchema = z.object({ productId: uuid, orderId: uuid, quantity, reservedAt: isoTimeSchema });

/** An order's reservation given back to available stock (cancelled, expired, refunded before payment). */
export const stockReleasedSchema = z.object({ productId: uuid, orderId: uuid, quantity, reason, releasedAt: isoTimeSchema });

/** The order was paid: its reserved units leave on hand. */
export const stockCommittedSchema = z.object({ productId: uuid, orderId: uuid, quantity, committedAt: isoTimeSchema });

/** Units of a committed order back on hand (refunded before shipping, or a return restocked). */
export const stockReturnedSchema = z.object({ productId: uuid, orderId: uuid, quantity, returnedAt: isoTimeSchema });

/**
 * Every stock event type with its schema version. Same rule as order events: a change is a new
 * version plus an upcaster, names never change.
 */
export const stockEventSchemas = {
  StockTrackingStarted: { version: 1, schema: stockTrackingStartedSchema },
  StockReceived: { version: 1, schema: stockReceivedSchema },
  StockAdjusted: { version: 1, schema: stockAdjustedSchema },
  StockReserved: { version: 1, schema: stockReservedSchema },
  StockReleased: { version: 1, schema: stockReleasedSchema },
  StockCommitted: { version: 1, schema: stockCommittedSchema },
  StockReturned: { version: 1, schema: stockReturnedSchema },
} as const;

type Schemas = typeof stockEventSchemas;
export type StockEventType = keyof Schemas;
export const stockEventTypes = Object.keys(stockEventSchemas) as StockEventType[];

export type StockEvent = {
  [K in StockEventType]: { type: K; data: z.infer<Schemas[K]['schema']> };
}[StockEventType];

export function isStockEventType(type: string): type is StockEventType {
  return Object.prototype.hasOwnProperty.call(stockEventSchemas, type);
}

export function stockOccurredAt(event: StockEvent): string {
  switch (event.type) {
    case 'StockTrackingStarted':
      return event.data.startedAt;
    case 'StockReceived':
      return event.data.receivedAt;
    case 'StockAdjusted':
      return event.data.adjustedAt;
    case 'StockReserved':
      return event.data.reservedAt;
    case 'StockReleased':
      return event.data.releasedAt;
    case 'StockCommitted':
      return event.data.committedAt;
    case 'StockReturned':
      return event.data.returnedAt;
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

import './openapi';
import type { Request } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors';
import type { Deps } from '../deps';

export const positionStringSchema = z.string().regex(/^\d{1,19}$/, 'must be a non-negative integer');

export const minPositionQuery = {
  minPosition: positionStringSchema.optional().openapi({ description: 'Wait (bounded) until the read model has applied this global position' }),
};

export const minPositionHeaders = z.object({
  'x-min-position': positionStringSchema.optional().openapi({ description: 'Same as the minPosition query parameter' }),
});

/** The position a read must reflect: `minPosition` query parameter or `X-Min-Position` header. */
export function requestedMinPosition(req: Request, fromQuery: string | undefined): bigint | undefined {
  const raw = fromQuery ?? req.header('x-min-position');
  if (raw === undefined) return undefined;
  const parsed = positionStringSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError('X-Min-Position must be a non-negative integer', undefined, 'INVALID_POSITION');
  return BigInt(parsed.data);
}

/**
 * Read-your-writes for a query: waits (bounded, 503 CONSISTENCY_TIMEOUT past CONSISTENCY_WAIT_MS)
 * until the read models reach the requested position. A position no append has issued yet is the
 * client's mistake, answered 400 at once instead of after the wait.
 */
export async function waitForRequestedPosition(deps: Deps, req: Request, fromQuery: string | undefined): Promise<void> {
  const position = requestedMinPosition(req, fromQuery);
  if (position === undefined || position <= deps.waiter.position) return;
  if (position > (await deps.store.lastPosition())) {
    throw new ValidationError(`No event has position ${position}; send back a position a command answered with`, undefined, 'UNKNOWN_POSITION');
  }
  await deps.waiter.waitFor(position, deps.config.CONSISTENCY_WAIT_MS);
}

/** If-Match carries the revision a client last saw: `"3"`, `W/"3"` or `3`. */
export function ifMatchRevision(req: Request): bigint | undefined {
  const raw = req.header('if-match');
  if (raw === undefined) return undefined;
  const match = /^(?:W\/)?"?(\d{1,19})"?$/.exec(raw.trim());
  if (!match) throw new ValidationError('If-Match must be an order revision such as "3"', undefined, 'INVALID_IF_MATCH');
  return BigInt(match[1]!);
}

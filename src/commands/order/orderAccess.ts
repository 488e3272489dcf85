import type { EncodeContext } from '../../events/codec';
import type { Actor } from '../../events/orderEvents';
import type { OrderState } from './orderDecider';
import { OrderNotFoundError } from './orderErrors';

/** Who is asking: a signed-in user or admin. */
export interface Caller {
  id: string;
  role: 'user' | 'admin';
}

/** The actor recorded on the events a caller's command appends. */
export function actorOf(caller: Caller): Actor {
  return { type: caller.role === 'admin' ? 'admin' : 'user', id: caller.id };
}

/**
 * Owners and admins may act on an order; anyone else gets the same 404 as for an order that does
 * not exist. Decided on the stream (never the read model), as the command handler folds it.
 */
export function ownerOrAdmin(caller: Caller, orderId: string): (state: OrderState) => void {
  return (state) => {
    if (state.status === 'NONE' || (caller.role !== 'admin' && state.userId !== caller.id)) throw new OrderNotFoundError(orderId);
  };
}

/** How a caller's command on an order runs: recorded as theirs, refused (404) unless theirs or they are an admin. */
export function asCaller(caller: Caller, orderId: string, requestId?: string): { context: EncodeContext; authorize: (state: OrderState) => void } {
  return { context: { actor: actorOf(caller), ...(requestId ? { requestId } : {}) }, authorize: ownerOrAdmin(caller, orderId) };
}

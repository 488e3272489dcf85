import type { HandleResult } from '../commands/orderCommandHandler';
import { OrderNotFoundError } from '../commands/order/orderErrors';
import type { Logger } from '../infra/logger';
import { ConsistencyTimeoutError, type ProjectionWaiter } from './consistency';
import { orderFromEvents, type OrderDto } from './orderQueries';
import type { StoredOrderEvent } from '../events/codec';
import type { DataKeyStore } from '../infra/privacy/dataKeyStore';

/**
 * consistent: the read models have applied `position`, so every query shows the command's effect.
 * pending: the command was applied but the read models had not reached `position` in time. Either
 * way `order` is the stream folded by the projection's own code: exactly the row the read model
 * holds at `position`.
 */
export type Consistency = 'consistent' | 'pending';

export interface OrderAfterCommand {
  order: OrderDto;
  /** Global position of the command's last event (decimal string). */
  position: string;
  /** The order stream's revision after the command: what an If-Match names next. */
  revision: bigint;
  consistency: Consistency;
}

/** How command answers wait for the read models, and fold the order as they would show it. */
export interface OrderReads {
  /** Waits, bounded, until the read models have applied `position`; ConsistencyTimeoutError past the bound. */
  waitFor(position: bigint, timeoutMs: number): Promise<void>;
  /** The order folded from its events, personal data opened as the order queries open it. */
  fromEvents(events: readonly StoredOrderEvent[]): Promise<OrderDto | undefined>;
}

/** The PostgreSQL read models, as the runtime waits for them. */
export function readModelOrderReads(waiter: Pick<ProjectionWaiter, 'waitFor'>, keys: DataKeyStore): OrderReads {
  return {
    waitFor: (position, timeoutMs) => waiter.waitFor(position, timeoutMs),
    fromEvents: (events) => orderFromEvents(events, keys),
  };
}

export interface OrderAfterCommandDeps {
  reads: OrderReads;
  logger: Logger;
  consistencyWaitMs: number;
}

/**
 * What an applied command answers: the order as the command left it, folded from the stream the
 * command handler already holds (the read-model row at `position` is this same fold, so reading it
 * back would cost a round trip and say nothing new), flagged consistent once the read models have
 * applied the command (a bounded wait) and pending otherwise. A command that was applied never turns
 * into an error here: a lagging or unreachable read model only changes the flag.
 */
export async function orderAfterCommand(deps: OrderAfterCommandDeps, result: HandleResult): Promise<OrderAfterCommand> {
  const position = (result.position ?? 0n).toString();
  let consistency: Consistency = 'consistent';
  try {
    if (result.position !== undefined) await deps.reads.waitFor(result.position, deps.consistencyWaitMs);
  } catch (error) {
    // Only the error's code is logged: a driver's message can carry SQL and bound values.
    const reason = error instanceof ConsistencyTimeoutError ? 'read model lagging' : `read model unreachable (${errorCode(error)})`;
    deps.logger.warn({ orderId: result.orderId, position, reason }, 'answering before the read models caught up');
    consistency = 'pending';
  }
  const order = await deps.reads.fromEvents(result.stream.events);
  if (!order) throw new OrderNotFoundError(result.orderId);
  return { order, position, revision: result.revision, consistency };
}

/** A driver error's code (pg's SQLSTATE, Node's ECONNREFUSED), or 'error' when it has none. */
function errorCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : 'error';
}

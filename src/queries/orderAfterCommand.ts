import type { Knex } from 'knex';
import type { HandleResult } from '../commands/orderCommandHandler';
import { OrderNotFoundError } from '../commands/order/orderErrors';
import type { Logger } from '../infra/logger';
import { ConsistencyTimeoutError, type ProjectionWaiter } from './consistency';
import { getOrder, orderFromEvents, type OrderDto } from './orderQueries';
import type { StoredOrderEvent } from '../events/codec';
import type { DataKeyStore } from '../infra/privacy/dataKeyStore';

/**
 * consistent: `order` is the read model, which has applied `position`. pending: the command was
 * applied but the read model had not reached `position` in time; `order` is the stream folded by the
 * projection's own code, exactly what the read model will show at `position`.
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

/** Where command answers read the order: the read models, and how to wait for them. */
export interface OrderReads {
  /** Waits, bounded, until the read models have applied `position`; ConsistencyTimeoutError past the bound. */
  waitFor(position: bigint, timeoutMs: number): Promise<void>;
  getOrder(orderId: string): Promise<OrderDto | undefined>;
  /** The order folded from its events, personal data opened as getOrder opens it. */
  fromEvents(events: readonly StoredOrderEvent[]): Promise<OrderDto | undefined>;
}

/** The PostgreSQL read models, as the runtime reads them. */
export function readModelOrderReads(knex: Knex, waiter: Pick<ProjectionWaiter, 'waitFor'>, keys: DataKeyStore): OrderReads {
  return {
    waitFor: (position, timeoutMs) => waiter.waitFor(position, timeoutMs),
    getOrder: (orderId) => getOrder(knex, orderId, {}, keys),
    fromEvents: (events) => orderFromEvents(events, keys),
  };
}

export interface OrderAfterCommandDeps {
  reads: OrderReads;
  logger: Logger;
  consistencyWaitMs: number;
}

/**
 * What an applied command answers: the read model's order once it has caught up with the command
 * (a bounded wait), otherwise the order folded from the command's own stream, flagged pending. A
 * command that was applied never turns into an error here: a lagging or unreachable read model
 * only changes where the order comes from.
 */
export async function orderAfterCommand(deps: OrderAfterCommandDeps, result: HandleResult): Promise<OrderAfterCommand> {
  const position = (result.position ?? 0n).toString();
  const answer = (order: OrderDto, consistency: Consistency): OrderAfterCommand => ({ order, position, revision: result.revision, consistency });
  let reason: string;
  try {
    if (result.position !== undefined) await deps.reads.waitFor(result.position, deps.consistencyWaitMs);
    const order = await deps.reads.getOrder(result.orderId);
    if (order) return answer(order, 'consistent');
    reason = 'no read-model row yet';
  } catch (error) {
    // Only the error's code is logged: a driver's message can carry SQL and bound values.
    reason = error instanceof ConsistencyTimeoutError ? 'read model lagging' : `read model unreachable (${errorCode(error)})`;
  }
  const order = await deps.reads.fromEvents(result.stream.events);
  if (!order) throw new OrderNotFoundError(result.orderId);
  deps.logger.warn({ orderId: result.orderId, position, reason }, 'answering from the command result');
  return answer(order, 'pending');
}

/** A driver error's code (pg's SQLSTATE, Node's ECONNREFUSED), or 'error' when it has none. */
function errorCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : 'error';
}

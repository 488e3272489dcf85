import './openapi';
import { z } from 'zod';
import type { HandleResult } from '../../commands/orderCommandHandler';
import { OrderNotFoundError } from '../../commands/order/orderErrors';
import { ConsistencyTimeoutError } from '../../queries/consistency';
import { getOrder, orderFromEvents, type OrderDto } from '../../queries/orderQueries';
import type { Deps } from '../deps';
import type { RouteResult } from './route';

export const CONSISTENCY_HEADER = 'X-Consistency';

export const consistencySchema = z
  .enum(['consistent', 'pending'])
  .describe(
    'consistent: `order` is the read model, which has applied `position`. pending: the command was applied, but the read model had not ' +
      'reached `position` within CONSISTENCY_WAIT_MS; `order` is the stream folded by the projection\'s own code, and queries show it ' +
      'once they reach `position` (pass it as X-Min-Position). The same value is in the X-Consistency header.',
  );
export type Consistency = z.infer<typeof consistencySchema>;

/** Documented on every command response. */
export const consistencyResponseHeaders = z.object({
  'x-consistency': consistencySchema.openapi({ description: 'consistent or pending, as `data.consistency`' }),
});

export interface CommandAnswer {
  order: OrderDto;
  position: string;
  consistency: Consistency;
  headers: Record<string, string>;
}

/**
 * What an applied command answers: the read model's order once it has caught up with the command
 * (a bounded wait), otherwise the order folded from the command's own stream, flagged pending. A
 * command that was applied never turns into an error here: a lagging or unreachable read model
 * only changes where the order comes from.
 */
export async function answerCommand(deps: Deps, result: HandleResult): Promise<CommandAnswer> {
  const position = (result.position ?? 0n).toString();
  const answer = (order: OrderDto, consistency: Consistency): CommandAnswer => ({ order, position, consistency, headers: { [CONSISTENCY_HEADER]: consistency } });
  let reason: string;
  try {
    if (result.position !== undefined) await deps.waiter.waitFor(result.position, deps.config.CONSISTENCY_WAIT_MS);
    const order = await getOrder(deps.knex, result.orderId, {});
    if (order) return answer(order, 'consistent');
    reason = 'no read-model row yet';
  } catch (error) {
    // Only the error's code is logged: a driver's message can carry SQL and bound values.
    reason = error instanceof ConsistencyTimeoutError ? 'read model lagging' : `read model unreachable (${String((error as { code?: unknown }).code ?? 'error')})`;
  }
  const order = orderFromEvents(result.stream);
  if (!order) throw new OrderNotFoundError(result.orderId);
  deps.logger.warn({ orderId: result.orderId, position, reason }, 'answering from the command result');
  return answer(order, 'pending');
}

/** The success envelope of a command: the order, the position to wait for, and how consistent the answer is. */
export function commandResponse(status: number, answer: CommandAnswer, extra: Record<string, unknown> = {}): RouteResult {
  return {
    status,
    headers: answer.headers,
    body: { status: 'success', data: { order: answer.order, position: answer.position, consistency: answer.consistency, ...extra } },
  };
}

import './openapi';
import { z } from 'zod';
import type { HandleResult } from '../../commands/orderCommandHandler';
import { orderAfterCommand, type OrderAfterCommand } from '../../queries/orderAfterCommand';
import type { Deps } from '../deps';
import type { RouteResult } from './route';

export const CONSISTENCY_HEADER = 'X-Consistency';

export const consistencySchema = z
  .enum(['consistent', 'pending'])
  .describe(
    'consistent: the read models have applied `position`, so every query shows the change. pending: the command was applied, but the ' +
      'read models had not reached `position` within CONSISTENCY_WAIT_MS; queries show it once they do (pass it as X-Min-Position). ' +
      "Either way `order` is the order's stream folded by the projection's own code: the read model's row at `position`. " +
      'The same value is in the X-Consistency header.',
  );

/** Documented on every command response. */
export const consistencyResponseHeaders = z.object({
  'x-consistency': consistencySchema.openapi({ description: 'consistent or pending, as `data.consistency`' }),
  etag: z.string().openapi({ description: 'The order\'s revision after the command, quoted ("3"): send it back as If-Match' }),
});

export type CommandAnswer = OrderAfterCommand;

/** The order to answer a command with (see orderAfterCommand). */
export function answerCommand(deps: Deps, result: HandleResult): Promise<CommandAnswer> {
  return orderAfterCommand({ reads: deps.orderReads, logger: deps.logger, consistencyWaitMs: deps.config.CONSISTENCY_WAIT_MS }, result);
}

/**
 * The success envelope of a command: the order, the position to wait for and how consistent the
 * answer is; X-Consistency says the same, and ETag carries the stream's revision after the command.
 */
export function commandResponse(status: number, answer: CommandAnswer, extra: Record<string, unknown> = {}): RouteResult {
  return {
    status,
    headers: { [CONSISTENCY_HEADER]: answer.consistency, ETag: `"${answer.revision}"` },
    body: { status: 'success', data: { order: answer.order, position: answer.position, consistency: answer.consistency, ...extra } },
  };
}

import { randomUUID } from 'node:crypto';
import type { EncodeContext } from '../../events/codec';
import type { OrderState } from '../order/orderDecider';
import { handleOrderCommand, type HandleResult } from '../orderCommandHandler';
import { driveRefundOf, type PartialRefundOutcome } from './partialRefunds';
import { nowOf, type PaymentDeps } from './paymentDeps';

export interface ReturnCommandOptions {
  context: EncodeContext;
  expectedRevision?: bigint;
  /** Refuses a caller who may not see the order (the owner's own orders only). */
  authorize?: (state: OrderState) => void;
}

const handleOptions = (options: ReturnCommandOptions) => ({
  context: options.context,
  ...(options.expectedRevision !== undefined ? { expectedRevision: options.expectedRevision } : {}),
  ...(options.authorize ? { authorize: options.authorize } : {}),
});

/** The owner asks to send delivered lines back (within RETURN_WINDOW_DAYS of delivery). */
export async function requestReturn(
  deps: PaymentDeps,
  orderId: string,
  request: { lines: { productId: string; quantity: number }[]; reason: string },
  windowDays: number,
  options: ReturnCommandOptions,
): Promise<{ result: HandleResult; returnId: string }> {
  const returnId = randomUUID();
  const result = await handleOrderCommand(deps.store, orderId, { type: 'RequestReturn', data: { returnId, ...request, windowDays, now: nowOf(deps) } }, handleOptions(options));
  return { result, returnId };
}

export async function approveReturn(deps: PaymentDeps, orderId: string, returnId: string, options: ReturnCommandOptions): Promise<HandleResult> {
  return handleOrderCommand(deps.store, orderId, { type: 'ApproveReturn', data: { returnId, now: nowOf(deps) } }, handleOptions(options));
}

export async function rejectReturn(deps: PaymentDeps, orderId: string, returnId: string, reason: string, options: ReturnCommandOptions): Promise<HandleResult> {
  return handleOrderCommand(deps.store, orderId, { type: 'RejectReturn', data: { returnId, reason, now: nowOf(deps) } }, handleOptions(options));
}

/**
 * The goods of an approved return arrive: ReturnReceived and the partial refund of its lines are
 * appended together, then the refund is sent to the provider now (the refund reactor sends it
 * should this fail). Restocking (StockReturned on `stock-<productId>` in the same multi-stream
 * append) waits for the stock streams (issue 17 items 2-3) to land.
 */
export async function receiveReturn(
  deps: PaymentDeps,
  orderId: string,
  returnId: string,
  damaged: string[],
  options: ReturnCommandOptions,
): Promise<{ result: HandleResult; refund: PartialRefundOutcome | undefined }> {
  const refundId = randomUUID();
  const received = await handleOrderCommand(deps.store, orderId, { type: 'ReceiveReturn', data: { returnId, damaged, refundId, now: nowOf(deps) } }, handleOptions(options));
  if (received.unchanged) return { result: received, refund: undefined };
  return driveRefundOf(deps, received, refundId, options.context);
}

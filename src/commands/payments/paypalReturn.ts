import { ConflictError, NotFoundError } from '../../errors';
import type { EncodeContext } from '../../events/codec';
import type { OrderStatus } from '../../events/orderEvents';
import { loadOrder } from '../order/orderStream';
import { capturePayPal } from './capturePayment';
import type { PaymentDeps } from './paymentDeps';

/** What the buyer's trip to PayPal came to: the front end shows one message per outcome. */
export type PayPalReturnOutcome = 'paid' | 'pending' | 'failed' | 'declined' | 'cancelled';

export interface PayPalReturn {
  orderId: string;
  outcome: PayPalReturnOutcome;
  orderStatus: OrderStatus;
}

export class PayPalTokenUnknownError extends NotFoundError {
  constructor() {
    super('PAYPAL_TOKEN_UNKNOWN', 'No order of this shop is paid with this PayPal token; start the payment again from the order');
  }
}

/**
 * The order a PayPal token belongs to, asked of PayPal (our order id is its custom_id). The token is
 * all the buyer's browser brings back: no bearer token, so the owner cannot be checked, and only
 * the order's current PayPal payment is acted on.
 */
async function orderOfToken(deps: PaymentDeps, token: string): Promise<{ orderId: string; stream: Awaited<ReturnType<typeof loadOrder>> }> {
  const orderId = await deps.providers.capturing('PAYPAL').orderIdOf(token);
  if (orderId === undefined || !/^[0-9a-f-]{36}$/i.test(orderId)) throw new PayPalTokenUnknownError();
  const stream = await loadOrder(deps.store, orderId);
  const { state } = stream;
  if (state.status === 'NONE' || state.paymentMethod !== 'PAYPAL') throw new PayPalTokenUnknownError();
  if (state.paymentReference !== token && state.paidReference !== token) {
    throw new ConflictError(
      'PAYPAL_TOKEN_STALE',
      `This PayPal approval belongs to an earlier payment attempt of order ${orderId}; use the latest payment link (POST /orders/${orderId}/pay)`,
      { orderId },
    );
  }
  return { orderId, stream };
}

/**
 * The buyer approved at PayPal and was sent back with `token`: capture the payment. Idempotent: a
 * second return (reload, back button) finds the order paid and captures nothing.
 */
export async function returnFromPayPal(deps: PaymentDeps, token: string, context: EncodeContext): Promise<PayPalReturn> {
  const { orderId, stream } = await orderOfToken(deps, token);
  if (stream.state.status !== 'NONE' && stream.state.paidReference === token) {
    return { orderId, outcome: 'paid', orderStatus: stream.state.status };
  }
  let captureStatus: string | undefined;
  try {
    ({ capture: { status: captureStatus } = { status: undefined } } = await capturePayPal(deps, orderId, { context }));
  } catch (error) {
    // The buyer can act on a refusal (approve again, another funding source); the order stays awaiting payment.
    if (!(error instanceof ConflictError) || error.code !== 'PAYPAL_CAPTURE_REFUSED') throw error;
    return { orderId, outcome: 'declined', orderStatus: await statusOf(deps, orderId) };
  }
  const orderStatus = await statusOf(deps, orderId);
  const outcome: PayPalReturnOutcome = orderStatus === 'PAYMENT_FAILED' ? 'failed' : orderStatus === 'PENDING' || captureStatus === 'PENDING' ? 'pending' : 'paid';
  return { orderId, outcome, orderStatus };
}

/** The buyer cancelled at PayPal: nothing changes; the order keeps awaiting payment and can be paid again. */
export async function cancelFromPayPal(deps: PaymentDeps, token: string): Promise<PayPalReturn> {
  const { orderId, stream } = await orderOfToken(deps, token);
  if (stream.state.status === 'NONE') throw new PayPalTokenUnknownError();
  return { orderId, outcome: 'cancelled', orderStatus: stream.state.status };
}

async function statusOf(deps: PaymentDeps, orderId: string): Promise<OrderStatus> {
  const { state } = await loadOrder(deps.store, orderId);
  if (state.status === 'NONE') throw new PayPalTokenUnknownError();
  return state.status;
}

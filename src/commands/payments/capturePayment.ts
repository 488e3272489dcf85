import { ConflictError } from '../../errors';
import type { EncodeContext } from '../../events/codec';
import { PaymentProviderError } from '../../infra/payments/paymentProvider';
import { isAwaitingPayment, type OrderState } from '../order/orderDecider';
import { InvalidTransitionError, OrderNotFoundError, PaymentMethodMismatchError } from '../order/orderErrors';
import { loadOrder } from '../order/orderStream';
import { unchangedResult, type HandleResult } from '../orderCommandHandler';
import type { PaymentDeps } from './paymentDeps';
import { recordReport } from './recordReport';

/**
 * The owner captures a PayPal payment the buyer approved; the capture's own status decides (paid,
 * failed, or pending until PayPal's webhook settles it). Reads the stream once.
 */
export async function capturePayPal(
  deps: PaymentDeps,
  orderId: string,
  options: { context: EncodeContext; authorize?: (state: OrderState) => void },
): Promise<{ capture?: { id: string; status: string }; result: HandleResult }> {
  const stream = await loadOrder(deps.store, orderId);
  const { state } = stream;
  options.authorize?.(state);
  if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
  if (state.paymentMethod !== 'PAYPAL') throw new PaymentMethodMismatchError(state.paymentMethod, 'PAYPAL');
  const unchanged = unchangedResult(stream);
  if (!isAwaitingPayment(state)) {
    if (state.paidReference !== undefined) return { result: unchanged }; // captured already
    throw new InvalidTransitionError(state.status, 'PAID', 'the order is not awaiting payment');
  }
  const reference = state.paymentReference;
  if (!reference) {
    throw new ConflictError('PAYMENT_NOT_STARTED', `Order ${orderId} has no PayPal payment to capture; start one with POST /orders/${orderId}/pay`);
  }
  let captured;
  try {
    captured = await deps.providers.capturing('PAYPAL').capture(orderId, reference);
  } catch (error) {
    if (error instanceof ConflictError && error.code === 'PAYPAL_CAPTURE_REFUSED') {
      deps.logger.warn({ orderId, err: { code: error.code, detail: error.logDetail } }, 'PayPal refused a capture');
      throw error;
    }
    if (error instanceof PaymentProviderError) {
      throw error.withContext(`Order ${orderId} is unchanged; retry the capture`, { orderId, orderStatus: state.status });
    }
    throw error;
  }
  if (!captured) throw new PaymentProviderError('PAYPAL', 'capture', 'the answer has no capture', false).withContext(`Order ${orderId} is unchanged`, { orderId });
  const capture = { id: captured.id, status: captured.status };
  if (!captured.report) return { capture, result: unchanged };
  const recorded = await recordReport(deps, captured.report, options.context, { loaded: stream });
  return { capture, result: recorded.result ?? unchanged };
}

import type { Logger } from '../../infra/logger';
import { PaymentProviderNotConfiguredError } from '../../infra/payments/paymentProvider';
import type { HandleResult } from '../orderCommandHandler';
import type { OrderState } from '../order/orderDecider';
import type { PaymentDeps } from './paymentDeps';

/**
 * Cancels the order's current payment attempt at its provider (Stripe PaymentIntent; PayPal orders
 * cannot be cancelled and lapse), so a cancelled or expired order stops taking money. `none`: there
 * was no attempt, or no provider configured here to ask. Provider errors (timeouts included) propagate.
 */
export async function cancelOpenPayment(payments: PaymentDeps | undefined, state: OrderState, logger: Logger): Promise<'cancelled' | 'paid' | 'none'> {
  if (state.status === 'NONE' || state.paymentMethod === 'MANUAL' || state.paymentReference === undefined) return 'none';
  if (!payments) return 'none';
  try {
    return await payments.providers.provider(state.paymentMethod).cancelPayment(state.paymentReference);
  } catch (error) {
    if (!(error instanceof PaymentProviderNotConfiguredError)) throw error;
    logger.warn({ orderId: state.orderId, provider: state.paymentMethod }, 'cannot cancel the open payment: provider not configured here');
    return 'none';
  }
}

/**
 * After a cancellation: the open payment is cancelled too, best effort. The order is already
 * cancelled whatever the provider says; money it still takes is refunded as a payment received
 * after cancellation.
 */
export async function cancelPaymentAfterCancellation(payments: PaymentDeps | undefined, result: HandleResult, logger: Logger): Promise<void> {
  const cancelled = result.events.find((event) => event.type === 'OrderCancelled');
  // A paid order's payment is given back by its refund, not cancelled.
  if (!cancelled || (cancelled.data.from !== 'PENDING' && cancelled.data.from !== 'PAYMENT_FAILED')) return;
  try {
    await cancelOpenPayment(payments, result.state, logger);
  } catch (error) {
    logger.warn({ orderId: result.orderId, err: { code: (error as { code?: unknown }).code } }, 'could not cancel the open payment of a cancelled order');
  }
}

import { ConflictError } from '../../errors';
import { orderStreamId, type EncodeContext } from '../../events/codec';
import { PaymentProviderError, type PaymentSession, type ProviderMethod } from '../../infra/payments/paymentProvider';
import { InvalidTransitionError, OrderNotFoundError } from '../order/orderErrors';
import { isAwaitingPayment, type OrderState } from '../order/orderDecider';
import { loadOrder, type OrderStream } from '../order/orderStream';
import { handleOrderCommand, unchangedResult, type HandleResult } from '../orderCommandHandler';
import { nowOf, type PaymentDeps } from './paymentDeps';

export interface StartPaymentOptions {
  context: EncodeContext;
  /** Refuses callers who may not act on the order (OrderNotFoundError), given its state. */
  authorize?: (state: OrderState) => void;
  /** The order's stream as the caller has it (just placed): not read again. */
  loaded?: OrderStream;
}

/**
 * Makes sure an order awaiting an online payment has a live provider attempt and returns what the
 * client needs to pay it. A pending attempt is resumed; otherwise a new one is created with an
 * idempotency key derived from the order id and stream revision, so a retried call after a timeout
 * gets the same attempt. When the provider fails, the failure is recorded (the order is
 * PAYMENT_FAILED, retryable) and the error says what failed and how to retry. Reads the stream once.
 */
export async function startPayment(deps: PaymentDeps, orderId: string, options: StartPaymentOptions): Promise<{ result: HandleResult; session?: PaymentSession }> {
  const stream = options.loaded ?? (await loadOrder(deps.store, orderId));
  const { state } = stream;
  options.authorize?.(state);
  if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
  if (state.paymentMethod === 'MANUAL') {
    throw new ConflictError('PAYMENT_NOT_ONLINE', 'MANUAL orders are paid offline; an admin confirms with POST /orders/:id/mark-paid');
  }
  if (!isAwaitingPayment(state)) throw new InvalidTransitionError(state.status, 'PENDING', 'payment can only start while awaiting payment');
  const method = state.paymentMethod;
  const provider = deps.providers.provider(method);
  const retryHint = { orderId, retry: `POST /orders/${orderId}/pay` };

  if (state.status === 'PENDING' && state.paymentReference) {
    let resumed: PaymentSession | undefined;
    try {
      resumed = await provider.resumePayment(state.paymentReference);
    } catch (error) {
      if (error instanceof PaymentProviderError) {
        throw error.withContext(`Order ${orderId} is still PENDING with its payment attempt; retry with POST /orders/${orderId}/pay`, {
          ...retryHint,
          orderStatus: state.status,
        });
      }
      throw error;
    }
    if (resumed) return { result: unchangedResult(stream), session: resumed };
  }

  // The same key as ever for the same attempt: `order-<id>-payment-<revision>`.
  const idempotencyKey = `${orderStreamId(orderId)}-payment-${stream.revision}`;
  let session: PaymentSession;
  try {
    session = await provider.createPayment({ orderId, amount: state.totalAmount, currency: state.currency, idempotencyKey });
  } catch (error) {
    if (!(error instanceof PaymentProviderError)) throw error;
    const status = await recordStartFailure(deps, stream, method, error, idempotencyKey, options.context);
    throw error.withContext(`Order ${orderId} was kept and is ${status}; retry the payment with POST /orders/${orderId}/pay`, {
      ...retryHint,
      orderStatus: status,
    });
  }
  const result = await handleOrderCommand(
    deps.store,
    orderId,
    { type: 'InitiatePayment', data: { provider: method, providerReference: session.reference, now: nowOf(deps) } },
    { context: options.context, loaded: stream },
  );
  return { result, session };
}

async function recordStartFailure(
  deps: PaymentDeps,
  stream: OrderStream,
  method: ProviderMethod,
  error: PaymentProviderError,
  idempotencyKey: string,
  context: EncodeContext,
): Promise<string> {
  const { orderId } = stream;
  deps.logger.warn({ orderId, provider: method, err: { code: error.code, message: error.message, detail: error.logDetail } }, 'payment could not be started');
  try {
    const result = await handleOrderCommand(
      deps.store,
      orderId,
      { type: 'RecordPaymentFailure', data: { provider: method, reason: error.message, now: nowOf(deps) } },
      { idempotencySource: `payment-start-failed:${idempotencyKey}`, context, loaded: stream },
    );
    return result.state.status;
  } catch (recordError) {
    // The order stays PENDING without an attempt: still retryable.
    deps.logger.error({ orderId, err: recordError }, 'could not record the failed payment start');
    return 'PENDING';
  }
}

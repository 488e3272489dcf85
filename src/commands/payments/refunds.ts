import { ConflictError } from '../../errors';
import type { EncodeContext } from '../../events/codec';
import { PaymentProviderError } from '../../infra/payments/paymentProvider';
import { strayPaymentOf } from '../order/orderDecider';
import { InvalidTransitionError, OrderNotFoundError, PaymentMethodMismatchError } from '../order/orderErrors';
import { loadOrder, type OrderStream } from '../order/orderStream';
import { handleOrderCommand, StaleRevisionError, unchangedResult, type HandleResult } from '../orderCommandHandler';
import { confirmManualPartialRefund, requestPartialRefund } from './partialRefunds';
import { nowOf, type PaymentDeps } from './paymentDeps';
import { recordReport } from './recordReport';

export interface RefundOutcome {
  status: 'succeeded' | 'pending' | 'failed' | 'awaiting_confirmation' | 'already_refunded';
  refundId?: string;
  failureReason?: string;
}

/**
 * Gives back the money one RefundRequested event names, through the provider that took it. The
 * event id is the provider's idempotency key, so running this again (a crash, the reactor and the
 * admin endpoint both) never refunds twice. A synchronous success is recorded at once. Whether the
 * request gives back the order's own payment or a stray one is on the event (the fold resolved it
 * for events older than that flag).
 */
async function refundRequest(deps: PaymentDeps, stream: OrderStream, refundRequestId: string, context: EncodeContext): Promise<{ refund: RefundOutcome; result: HandleResult }> {
  const { orderId, state } = stream;
  const request = stream.events.find((stored) => stored.id === refundRequestId)?.event;
  if (request?.type !== 'RefundRequested' || state.status === 'NONE') throw new OrderNotFoundError(orderId);
  const unchanged = unchangedResult(stream);
  const { provider: method, stray } = request.data;
  if (method === 'MANUAL') return { refund: { status: 'awaiting_confirmation' }, result: unchanged };
  if (!stray && state.status === 'REFUNDED') return { refund: { status: 'already_refunded' }, result: unchanged };
  const paymentReference = request.data.providerReference ?? state.paidReference;
  if (!paymentReference) throw new PaymentProviderError(method, 'refund', 'the refund request names no payment to give back', false);
  if (stray && strayPaymentOf(state, paymentReference)?.refunded) return { refund: { status: 'already_refunded' }, result: unchanged };
  const refund = await deps.providers.provider(method).refund({
    orderId,
    paymentReference,
    amount: request.data.amount,
    currency: request.data.currency,
    idempotencyKey: refundRequestId,
  });
  let result = unchanged;
  if (refund.status === 'succeeded') {
    const recorded = await recordReport(
      deps,
      {
        provider: method,
        via: 'refund',
        eventId: refund.refundId,
        orderId,
        kind: 'refunded',
        reference: paymentReference,
        // A report carries the total given back so far: this refund on top of the partial refunds before it.
        amount: refund.amount + (stray ? 0 : state.refundedAmount),
        currency: refund.currency,
        refundId: refund.refundId,
      },
      context,
      { loaded: stream },
    );
    result = recorded.result ?? unchanged;
  } else if (refund.status === 'failed') {
    deps.logger.error({ orderId, provider: method, refundId: refund.refundId, reason: refund.failureReason }, 'provider could not refund');
  }
  return {
    refund: { status: refund.status, refundId: refund.refundId, ...(refund.failureReason ? { failureReason: refund.failureReason } : {}) },
    result,
  };
}

/** The refund reactor's entry: one RefundRequested event, by id. */
export async function executeRefund(deps: PaymentDeps, orderId: string, refundRequestId: string, context: EncodeContext): Promise<RefundOutcome> {
  return (await refundRequest(deps, await loadOrder(deps.store, orderId), refundRequestId, context)).refund;
}

/**
 * Admin refund: requests it (unless a refund of the order's payment is already on its way) and
 * drives it through the provider now. A provider failure leaves the request in place for the
 * refund reactor to retry. Reads the stream once.
 */
export async function refundOrder(
  deps: PaymentDeps,
  orderId: string,
  reason: string | undefined,
  context: EncodeContext,
  expectedRevision?: bigint,
): Promise<{ result: HandleResult; refund: RefundOutcome }> {
  const stream = await loadOrder(deps.store, orderId);
  const { state } = stream;
  if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
  if (expectedRevision !== undefined && expectedRevision !== stream.revision) throw new StaleRevisionError(expectedRevision, stream.revision);
  const expected = expectedRevision !== undefined ? { expectedRevision } : {};
  // After partial refunds, the rest of the payment goes back as one more partial refund.
  if (state.refunds.length > 0 || state.refundedAmount > 0) {
    const rest = state.paidAmount - state.refundedAmount - state.refunds.filter((r) => r.status === 'requested').reduce((sum, r) => sum + r.amount, 0);
    if (state.status === 'REFUNDED' || rest <= 0) return { result: unchangedResult(stream), refund: { status: state.status === 'REFUNDED' ? 'already_refunded' : 'pending' } };
    const { result, refund } = await requestPartialRefund(
      deps,
      orderId,
      { amount: rest, reason: reason ?? 'refund of the rest of the payment' },
      { context, loaded: stream, ...expected },
    );
    return {
      result,
      refund: {
        status: refund.status,
        ...(refund.providerRefundId ? { refundId: refund.providerRefundId } : {}),
        ...(refund.failureReason ? { failureReason: refund.failureReason } : {}),
      },
    };
  }
  let requested = unchangedResult(stream);
  if (!(state.refundRequested && state.status !== 'REFUNDED')) {
    requested = await handleOrderCommand(
      deps.store,
      orderId,
      { type: 'RequestRefund', data: { ...(reason ? { reason } : {}), now: nowOf(deps) } },
      { context, loaded: stream, ...expected },
    );
  }
  const own = [...requested.stream.events].reverse().find((stored) => stored.event.type === 'RefundRequested' && stored.event.data.stray === false);
  if (!own) throw new InvalidTransitionError(state.status, 'REFUNDED', 'nothing was paid');
  try {
    const { refund, result } = await refundRequest(deps, requested.stream, own.id, context);
    // The refund reactor may have recorded the provider's answer first (the same idempotency key
    // gives both the same refund): answer with whichever view of the stream is newer.
    return { result: result.revision > requested.revision ? result : requested, refund };
  } catch (error) {
    if (error instanceof PaymentProviderError) {
      throw error.withContext(`The refund of order ${orderId} is requested and will be retried automatically`, { orderId, refundRequested: true });
    }
    throw error;
  }
}

/**
 * An admin confirms a MANUAL refund was paid out: the full refund, or one partial refund (named by
 * refundId; without it, the only partial refund awaiting confirmation).
 */
export async function confirmManualRefund(deps: PaymentDeps, orderId: string, context: EncodeContext, refundId?: string, expectedRevision?: bigint): Promise<HandleResult> {
  const stream = await loadOrder(deps.store, orderId);
  const { state } = stream;
  if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
  if (expectedRevision !== undefined && expectedRevision !== stream.revision) throw new StaleRevisionError(expectedRevision, stream.revision);
  if (state.paymentMethod !== 'MANUAL') throw new PaymentMethodMismatchError(state.paymentMethod, 'MANUAL');
  if (refundId !== undefined) return confirmManualPartialRefund(deps, stream, refundId, context);
  if (state.status === 'REFUNDED') return unchangedResult(stream);
  if (!state.refundRequested) {
    const awaiting = state.refunds.filter((r) => r.status === 'requested');
    if (awaiting.length === 1) return confirmManualPartialRefund(deps, stream, awaiting[0]!.refundId, context);
    if (awaiting.length > 1) {
      throw new ConflictError('REFUND_ID_REQUIRED', `Order ${orderId} has ${awaiting.length} refunds awaiting confirmation; name one with refundId`, {
        refundIds: awaiting.map((r) => r.refundId),
      });
    }
  }
  if (!state.refundRequested) {
    throw new ConflictError('REFUND_NOT_REQUESTED', `Order ${orderId} has no refund to confirm; request one with POST /orders/${orderId}/refund`);
  }
  return handleOrderCommand(
    deps.store,
    orderId,
    { type: 'RecordRefund', data: { provider: 'MANUAL', amount: state.paidAmount, currency: state.currency, now: nowOf(deps) } },
    { context, loaded: stream },
  );
}

import { randomUUID } from 'node:crypto';
import type { EncodeContext, StoredOrderEvent } from '../../events/codec';
import { PaymentProviderError } from '../../infra/payments/paymentProvider';
import type { OrderState } from '../order/orderDecider';
import { OrderNotFoundError, RefundNotFoundError } from '../order/orderErrors';
import { loadOrder, type OrderStream } from '../order/orderStream';
import { handleOrderCommand, unchangedResult, type HandleResult } from '../orderCommandHandler';
import { nowOf, type PaymentDeps } from './paymentDeps';

/** Where one partial refund stands after the call that drove it. */
export interface PartialRefundOutcome {
  refundId: string;
  /** awaiting_confirmation: MANUAL, an admin confirms the payout; pending: the provider confirms by webhook. */
  status: 'succeeded' | 'pending' | 'failed' | 'awaiting_confirmation';
  providerRefundId?: string;
  failureReason?: string;
}

export interface PartialRefundRequest {
  amount?: number;
  lines?: { productId: string; quantity: number }[];
  reason: string;
  returnId?: string;
}

export interface CommandOptions {
  context: EncodeContext;
  expectedRevision?: bigint;
  loaded?: OrderStream;
}

/** An attempt event (the request or a retry) with the refund it is for. */
function attemptOf(stored: StoredOrderEvent | undefined): { refundId: string; attempt: number; amount: number; currency: string } | undefined {
  if (stored?.event.type === 'PartialRefundRequested') return { ...stored.event.data, attempt: 1 };
  if (stored?.event.type === 'RefundRetryRequested') return stored.event.data;
  return undefined;
}

function outcomeOf(state: OrderState, refundId: string): PartialRefundOutcome['status'] {
  if (state.status === 'NONE') return 'pending';
  const refund = state.refunds.find((r) => r.refundId === refundId);
  if (refund?.status === 'succeeded') return 'succeeded';
  if (refund?.status === 'failed') return 'failed';
  return state.paymentMethod === 'MANUAL' ? 'awaiting_confirmation' : 'pending';
}

/**
 * Sends one attempt (a PartialRefundRequested or RefundRetryRequested event, by id) to the provider
 * that took the money, with the event's id as idempotency key: the reactor and the admin's request
 * driving the same attempt make one refund. A synchronous answer is recorded at once: success as
 * RefundSucceeded, a refusal (a failed refund, or a provider error no retry will fix) as RefundFailed.
 * Outages and timeouts are thrown (PaymentProviderError, transient) for the caller to retry.
 */
async function driveAttempt(
  deps: PaymentDeps,
  stream: OrderStream,
  attemptEventId: string,
  context: EncodeContext,
): Promise<{ refund: PartialRefundOutcome; result: HandleResult }> {
  const { orderId, state } = stream;
  const attempt = attemptOf(stream.events.find((stored) => stored.id === attemptEventId));
  if (!attempt || state.status === 'NONE') throw new OrderNotFoundError(orderId);
  const { refundId } = attempt;
  const unchanged = unchangedResult(stream);
  const refund = state.refunds.find((r) => r.refundId === refundId);
  if (!refund) throw new RefundNotFoundError(orderId, refundId);
  // Settled, or superseded by a later attempt: nothing to send.
  if (refund.status !== 'requested' || refund.attempt !== attempt.attempt) return { refund: { refundId, status: outcomeOf(state, refundId) }, result: unchanged };
  const method = state.paymentMethod;
  if (method === 'MANUAL') return { refund: { refundId, status: 'awaiting_confirmation' }, result: unchanged };
  const fail = async (reason: string, providerRefundId?: string) => {
    const result = await handleOrderCommand(
      deps.store,
      orderId,
      { type: 'RecordRefundFailure', data: { refundId, attempt: attempt.attempt, provider: method, reason, now: nowOf(deps) } },
      { context, loaded: stream },
    );
    deps.logger.error({ orderId, refundId, attempt: attempt.attempt, provider: method, reason }, 'provider refused the refund; an admin may retry it');
    return { refund: { refundId, status: outcomeOf(result.state, refundId), ...(providerRefundId ? { providerRefundId } : {}), failureReason: reason }, result };
  };
  if (!state.paidReference) return fail('the order names no payment to give back');
  let answer;
  try {
    answer = await deps.providers.provider(method).refund({
      orderId,
      paymentReference: state.paidReference,
      amount: attempt.amount,
      currency: attempt.currency,
      idempotencyKey: attemptEventId,
    });
  } catch (error) {
    // The provider's own words stay in the log (logDetail); the order records the plain message.
    if (error instanceof PaymentProviderError && !error.transient) {
      deps.logger.warn({ orderId, refundId, detail: error.logDetail }, 'provider refused the refund call');
      return fail(error.message);
    }
    throw error;
  }
  if (answer.status === 'failed') return fail(answer.failureReason ?? 'the provider refused the refund', answer.refundId);
  if (answer.status === 'pending') return { refund: { refundId, status: 'pending', providerRefundId: answer.refundId }, result: unchanged };
  const result = await handleOrderCommand(
    deps.store,
    orderId,
    {
      type: 'RecordPartialRefund',
      data: { refundId, provider: method, providerRefundId: answer.refundId, amount: answer.amount, currency: answer.currency, now: nowOf(deps) },
    },
    { context, loaded: stream },
  );
  return { refund: { refundId, status: outcomeOf(result.state, refundId), providerRefundId: answer.refundId }, result };
}

/** The newer of two views of the same stream (a concurrent reactor may have recorded the answer first). */
function newer(a: HandleResult, b: HandleResult): HandleResult {
  return b.revision > a.revision ? b : a;
}

/** The refund reactor's entry: one attempt event, by id. */
export async function executeRefundAttempt(deps: PaymentDeps, orderId: string, attemptEventId: string, context: EncodeContext): Promise<PartialRefundOutcome> {
  return (await driveAttempt(deps, await loadOrder(deps.store, orderId), attemptEventId, context)).refund;
}

async function drive(deps: PaymentDeps, requested: HandleResult, attemptEventId: string, context: EncodeContext) {
  try {
    const { refund, result } = await driveAttempt(deps, requested.stream, attemptEventId, context);
    return { refund, result: newer(requested, result) };
  } catch (error) {
    if (error instanceof PaymentProviderError) {
      throw error.withContext(`The refund of order ${requested.orderId} is requested and will be retried automatically`, { orderId: requested.orderId, refundRequested: true });
    }
    throw error;
  }
}

/**
 * Admin partial refund: an amount, or order lines priced from the order, up to what is left of the
 * payment; requested, then sent to the provider now (the refund reactor sends it should this fail).
 */
export async function requestPartialRefund(
  deps: PaymentDeps,
  orderId: string,
  request: PartialRefundRequest,
  options: CommandOptions,
): Promise<{ result: HandleResult; refund: PartialRefundOutcome }> {
  const refundId = randomUUID();
  const requested = await handleOrderCommand(
    deps.store,
    orderId,
    { type: 'RequestPartialRefund', data: { refundId, ...request, now: nowOf(deps) } },
    {
      context: options.context,
      ...(options.expectedRevision !== undefined ? { expectedRevision: options.expectedRevision } : {}),
      ...(options.loaded ? { loaded: options.loaded } : {}),
    },
  );
  const { result, refund } = await driveRefundOf(deps, requested, refundId, options.context);
  if (!refund) throw new RefundNotFoundError(orderId, refundId);
  return { result, refund };
}

/** Sends a refund just requested (by an admin, or with a received return) to the provider. */
export async function driveRefundOf(
  deps: PaymentDeps,
  requested: HandleResult,
  refundId: string,
  context: EncodeContext,
): Promise<{ result: HandleResult; refund: PartialRefundOutcome | undefined }> {
  const attempt = requested.stream.events.find((stored) => stored.event.type === 'PartialRefundRequested' && stored.event.data.refundId === refundId);
  if (!attempt) return { result: requested, refund: undefined };
  return drive(deps, requested, attempt.id, context);
}

/** An admin tries a refused refund again: a new attempt with its own idempotency key. */
export async function retryRefund(deps: PaymentDeps, orderId: string, refundId: string, options: CommandOptions): Promise<{ result: HandleResult; refund: PartialRefundOutcome }> {
  const requested = await handleOrderCommand(
    deps.store,
    orderId,
    { type: 'RetryRefund', data: { refundId, now: nowOf(deps) } },
    { context: options.context, ...(options.expectedRevision !== undefined ? { expectedRevision: options.expectedRevision } : {}) },
  );
  const attempt = [...requested.stream.events].reverse().find((stored) => stored.event.type === 'RefundRetryRequested' && stored.event.data.refundId === refundId);
  if (!attempt) throw new RefundNotFoundError(orderId, refundId);
  return drive(deps, requested, attempt.id, options.context);
}

/** An admin confirms one MANUAL partial refund was paid out. */
export async function confirmManualPartialRefund(deps: PaymentDeps, stream: OrderStream, refundId: string, context: EncodeContext): Promise<HandleResult> {
  const { state } = stream;
  if (state.status === 'NONE') throw new OrderNotFoundError(stream.orderId);
  const refund = state.refunds.find((r) => r.refundId === refundId);
  if (!refund) throw new RefundNotFoundError(stream.orderId, refundId);
  return handleOrderCommand(
    deps.store,
    stream.orderId,
    { type: 'RecordPartialRefund', data: { refundId, provider: 'MANUAL', amount: refund.amount, currency: state.currency, now: nowOf(deps) } },
    { context, loaded: stream },
  );
}

import type { Decider } from '../decider';
import type { FulfilmentStatus, OrderEvent, OrderItem, OrderStatus, PaymentMethod, RefundLine } from '../../events/orderEvents';
import { providerCanCharge } from '../../events/money';
import { minimumCharge } from './chargeMinimums';
import {
  InvalidOrderError,
  InvalidTransitionError,
  OrderAmountBelowMinimumError,
  OrderAmountNotChargeableError,
  OrderAlreadyExistsError,
  OrderNotFoundError,
  PartialRefundError,
  PaymentMethodMismatchError,
  RefundNotFoundError,
  RefundNotRetryableError,
  RefundExceedsPaymentError,
  ReturnNotAllowedError,
  ReturnNotFoundError,
  ReturnTransitionError,
} from './orderErrors';

/** The status machine decide() applies, as data (error hints and the README's lifecycle diagram read it). */
export { orderTransitions, type OrderTransition } from './orderTransitions';

export type OrderState =
  | { status: 'NONE' }
  | {
      status: OrderStatus;
      orderId: string;
      userId: string;
      totalAmount: number;
      currency: string;
      paymentMethod: PaymentMethod;
      /** When the order was placed: its payment window (ORDER_PAYMENT_TTL) runs from here. */
      placedAt: string;
      /** Provider's id for the current payment attempt, once initiated. */
      paymentReference: string | undefined;
      /** Provider's id for the payment the order counts as its own (paid, or received after cancellation). */
      paidReference: string | undefined;
      paidAmount: number;
      /** A refund of the order's own payment was requested. */
      refundRequested: boolean;
      /** Payments the order never counted (wrong amount, duplicate, late) whose refund was requested. */
      strayPayments: readonly StrayPayment[];
      /** The lines as placed (partial refunds of lines are priced from them). */
      items: readonly OrderItem[];
      /** Money of the order's own payment given back so far (partial refunds, provider-initiated ones included). */
      refundedAmount: number;
      /** Partial refunds requested by an admin, in request order. */
      refunds: readonly PartialRefund[];
      /** When the order was delivered (the return window counts from it). */
      deliveredAt: string | undefined;
      returns: readonly OrderReturn[];
      /** CustomerDataErased was recorded: the order's personal data can never be opened again. */
      personalDataErased: boolean;
    };

export interface OrderReturn {
  returnId: string;
  lines: readonly { productId: string; quantity: number }[];
  status: 'requested' | 'approved' | 'rejected' | 'received';
}

/** One partial refund and where it stands. */
export interface PartialRefund {
  refundId: string;
  amount: number;
  lines: readonly RefundLine[];
  status: 'requested' | 'succeeded' | 'failed';
  /** The provider attempt in flight or last made: 1 for the request, one more per retry. */
  attempt: number;
}

/** Money a provider took for the order that the order never counted, and whether it went back. */
export interface StrayPayment {
  /** The provider's id for the payment (Stripe PaymentIntent, PayPal order). */
  reference: string;
  amount: number;
  currency: string;
  refunded: boolean;
}

export type ExistingOrderState = Exclude<OrderState, { status: 'NONE' }>;

export type OrderCommand =
  | {
      type: 'PlaceOrder';
      /** personalData: already sealed by the handler (sealing needs the customer's key: I/O). */
      data: { orderId: string; userId: string; items: OrderItem[]; currency: string; paymentMethod: PaymentMethod; personalData?: string; now: string };
    }
  | { type: 'InitiatePayment'; data: { provider: PaymentMethod; providerReference: string; now: string } }
  | {
      type: 'RecordPaymentSuccess';
      data: { provider: PaymentMethod; providerReference?: string; amount: number; currency: string; now: string };
    }
  | { type: 'RecordPaymentFailure'; data: { provider: PaymentMethod; providerReference?: string; reason: string; now: string } }
  | { type: 'MarkPaid'; data: { now: string } }
  | { type: 'ChangeStatus'; data: { to: FulfilmentStatus; now: string } }
  | { type: 'CancelOrder'; data: { by: 'user' | 'admin'; reason?: string; now: string } }
  /** The payment window closed: an order still awaiting payment `ttlMs` after placement is cancelled. */
  | { type: 'ExpireOrder'; data: { ttlMs: number; now: string } }
  | { type: 'RequestRefund'; data: { reason?: string; now: string } }
  | {
      type: 'RecordRefund';
      /**
       * providerReference: the refund's id. paymentReference: the payment it gave back (omit when unknown).
       * amount: the total the provider has refunded for that payment so far.
       */
      data: { provider: PaymentMethod; providerReference?: string; paymentReference?: string; amount: number; currency: string; now: string };
    }
  | {
      type: 'RequestPartialRefund';
      /** amount or lines (priced from the order), not both. refundId: a fresh id from the handler. */
      data: { refundId: string; amount?: number; lines?: readonly { productId: string; quantity: number }[]; reason: string; returnId?: string; now: string };
    }
  | { type: 'RetryRefund'; data: { refundId: string; now: string } }
  | {
      type: 'RecordPartialRefund';
      /** The provider (or an admin, for MANUAL) confirms one of our refunds; providerRefundId: its id there. */
      data: { refundId: string; provider: PaymentMethod; providerRefundId?: string; amount: number; currency: string; now: string };
    }
  | { type: 'RecordRefundFailure'; data: { refundId: string; attempt: number; provider: PaymentMethod; reason: string; now: string } }
  | {
      type: 'RequestReturn';
      /** windowDays: RETURN_WINDOW_DAYS, passed in so the decider stays pure. */
      data: { returnId: string; lines: readonly { productId: string; quantity: number }[]; reason: string; windowDays: number; now: string };
    }
  | { type: 'ApproveReturn'; data: { returnId: string; now: string } }
  | { type: 'RejectReturn'; data: { returnId: string; reason: string; now: string } }
  | {
      type: 'ReceiveReturn';
      /** damaged: products that came back unfit to sell (not restocked). refundId: the refund's fresh id. */
      data: { returnId: string; damaged: readonly string[]; refundId: string; now: string };
    }
  /** The customer's data key is destroyed; recorded on each of their orders so read models drop the sealed data. */
  | { type: 'EraseCustomerData'; data: { now: string } };

export const initialOrderState: OrderState = { status: 'NONE' };

export function strayPaymentOf(state: ExistingOrderState, reference: string): StrayPayment | undefined {
  return state.strayPayments.find((payment) => payment.reference === reference);
}

const awaitingPayment: ReadonlySet<OrderStatus> = new Set(['PENDING', 'PAYMENT_FAILED']);

/** PENDING or PAYMENT_FAILED: a payment may start, be resumed or be captured. */
export function isAwaitingPayment(state: OrderState): boolean {
  return state.status !== 'NONE' && awaitingPayment.has(state.status);
}

/**
 * Whether a refund request gives back money the order never counted (wrong amount, duplicate, late)
 * rather than the order's own payment. Events since v3 say so (`stray`); for older ones it follows
 * from the state before the event. The only place that rule lives: the fold resolves old events with it.
 */
export function refundIsStray(before: ExistingOrderState, data: { providerReference?: string | undefined; stray?: boolean | undefined }): boolean {
  if (data.stray !== undefined) return data.stray;
  const reference = data.providerReference;
  return awaitingPayment.has(before.status) || (reference !== undefined && reference !== before.paidReference && (before.paidReference !== undefined || before.refundRequested));
}
const paidStatuses: ReadonlySet<OrderStatus> = new Set(['PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED']);

/** The status each fulfilment step must come from. */
const fulfilmentPredecessor: Record<FulfilmentStatus, OrderStatus> = {
  PROCESSING: 'PAID',
  SHIPPED: 'PROCESSING',
  DELIVERED: 'SHIPPED',
};

function placeOrder(command: Extract<OrderCommand, { type: 'PlaceOrder' }>, state: OrderState): OrderEvent[] {
  const { orderId, userId, items, currency, paymentMethod, personalData, now } = command.data;
  if (state.status !== 'NONE') throw new OrderAlreadyExistsError(orderId);
  if (items.length === 0) throw new InvalidOrderError('An order needs at least one item');
  for (const item of items) {
    if (item.lineAmount !== item.unitAmount * item.quantity) {
      throw new InvalidOrderError(`Line amount for ${item.sku} does not equal unit amount times quantity`);
    }
  }
  const totalAmount = items.reduce((sum, item) => sum + item.lineAmount, 0);
  if (!Number.isSafeInteger(totalAmount)) throw new InvalidOrderError('Order total is too large');
  const minimum = minimumCharge(paymentMethod, currency).amount;
  if (totalAmount < minimum) throw new OrderAmountBelowMinimumError(paymentMethod, currency, minimum, totalAmount);
  if (paymentMethod !== 'MANUAL' && !providerCanCharge(paymentMethod, totalAmount, currency)) {
    throw new OrderAmountNotChargeableError(paymentMethod, currency, totalAmount);
  }
  return [{ type: 'OrderPlaced', data: { orderId, userId, items, totalAmount, currency, paymentMethod, placedAt: now, ...(personalData ? { personalData } : {}) } }];
}

function initiatePayment(command: Extract<OrderCommand, { type: 'InitiatePayment' }>, state: ExistingOrderState): OrderEvent[] {
  const { provider, providerReference, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  if (!awaitingPayment.has(state.status)) throw new InvalidTransitionError(state.status, 'PENDING', 'payment can only start while awaiting payment');
  if (state.status === 'PENDING' && state.paymentReference === providerReference) return [];
  return [
    {
      type: 'PaymentInitiated',
      data: { orderId: state.orderId, provider, providerReference, amount: state.totalAmount, currency: state.currency, initiatedAt: now },
    },
  ];
}

/**
 * Money reported by a provider. Only a payment of the order's total, while the order awaits payment,
 * pays it (even from an attempt that was since replaced: it is this order's money). Any other money
 * the provider took for the order is given back: a wrong amount, a second payment, a payment after
 * cancellation or refund.
 */
function recordPaymentSuccess(command: Extract<OrderCommand, { type: 'RecordPaymentSuccess' }>, state: ExistingOrderState): OrderEvent[] {
  const { provider, providerReference, amount, currency, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  const orderId = state.orderId;
  const reference = providerReference ? { providerReference } : {};
  const refund = (reason: string, stray: boolean): OrderEvent => ({
    type: 'RefundRequested',
    data: { orderId, provider, ...reference, amount, currency, reason, stray, requestedAt: now },
  });
  if (providerReference !== undefined && strayPaymentOf(state, providerReference)) return []; // already being given back
  if (awaitingPayment.has(state.status)) {
    if (amount === state.totalAmount && currency === state.currency) {
      return [{ type: 'PaymentSucceeded', data: { orderId, provider, ...reference, amount, currency, succeededAt: now } }];
    }
    const reason = `amount mismatch: expected ${state.totalAmount} ${state.currency}, received ${amount} ${currency}`;
    // Only the current attempt's result fails the order; a replaced attempt's money is just returned.
    const replaced = providerReference !== undefined && state.paymentReference !== undefined && providerReference !== state.paymentReference;
    if (replaced) return [refund(reason, true)];
    return [{ type: 'PaymentFailed', data: { orderId, provider, ...reference, reason, failedAt: now } }, refund(reason, true)];
  }
  // The first money after cancellation is the order's own payment, given back as its refund.
  if (state.status === 'CANCELLED' && !state.refundRequested) return [refund('payment received after cancellation', false)];
  // The payment the order already counts, reported again (without a reference we cannot tell it apart).
  if (providerReference === undefined || providerReference === state.paidReference) return [];
  return [refund(state.status === 'CANCELLED' ? 'payment received after cancellation' : 'duplicate payment', true)];
}

function recordPaymentFailure(command: Extract<OrderCommand, { type: 'RecordPaymentFailure' }>, state: ExistingOrderState): OrderEvent[] {
  const { provider, providerReference, reason, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  // A failure reported after the order was paid, cancelled or refunded is stale news.
  if (!awaitingPayment.has(state.status)) return [];
  // So is the failure of an attempt that was replaced: the current attempt may still succeed.
  if (providerReference !== undefined && state.paymentReference !== undefined && providerReference !== state.paymentReference) return [];
  return [
    {
      type: 'PaymentFailed',
      data: { orderId: state.orderId, provider, ...(providerReference ? { providerReference } : {}), reason, failedAt: now },
    },
  ];
}

function markPaid(command: Extract<OrderCommand, { type: 'MarkPaid' }>, state: ExistingOrderState): OrderEvent[] {
  if (state.paymentMethod !== 'MANUAL') throw new PaymentMethodMismatchError(state.paymentMethod, 'MANUAL');
  if (!awaitingPayment.has(state.status)) throw new InvalidTransitionError(state.status, 'PAID');
  return [
    {
      type: 'PaymentSucceeded',
      data: { orderId: state.orderId, provider: 'MANUAL', amount: state.totalAmount, currency: state.currency, succeededAt: command.data.now },
    },
  ];
}

function changeStatus(command: Extract<OrderCommand, { type: 'ChangeStatus' }>, state: ExistingOrderState): OrderEvent[] {
  const { to, now } = command.data;
  if (state.status !== fulfilmentPredecessor[to]) throw new InvalidTransitionError(state.status, to);
  // The money is on its way back: shipping the goods as well would give away both.
  if (state.refundRequested) throw new InvalidTransitionError(state.status, to, 'a refund is pending');
  return [{ type: 'OrderStatusChanged', data: { orderId: state.orderId, from: state.status, to, changedAt: now } }];
}

function cancelOrder(command: Extract<OrderCommand, { type: 'CancelOrder' }>, state: ExistingOrderState): OrderEvent[] {
  const { by, reason, now } = command.data;
  const cancelled: OrderEvent = {
    type: 'OrderCancelled',
    data: { orderId: state.orderId, from: state.status, ...(reason ? { reason } : {}), cancelledAt: now },
  };
  if (awaitingPayment.has(state.status)) return [cancelled];
  if (state.status === 'PAID') {
    if (by !== 'admin') throw new InvalidTransitionError(state.status, 'CANCELLED', 'only an admin can cancel a paid order');
    if (state.refundRequested) return [cancelled]; // the refund is already on its way; a second request could pay it back twice
    // After partial refunds only the rest goes back.
    const rest = state.paidAmount - committedRefunds(state);
    if (rest <= 0) return [cancelled];
    return [
      cancelled,
      {
        type: 'RefundRequested',
        data: {
          orderId: state.orderId,
          provider: state.paymentMethod,
          ...(state.paidReference ? { providerReference: state.paidReference } : {}),
          amount: rest,
          currency: state.currency,
          reason: 'order cancelled after payment',
          stray: false,
          requestedAt: now,
        },
      },
    ];
  }
  throw new InvalidTransitionError(state.status, 'CANCELLED');
}

function expireOrder(command: Extract<OrderCommand, { type: 'ExpireOrder' }>, state: ExistingOrderState): OrderEvent[] {
  const { ttlMs, now } = command.data;
  // Paid, cancelled or still inside its window: nothing expires (a late or repeated expiry is a no-op).
  if (!awaitingPayment.has(state.status) || Date.parse(state.placedAt) + ttlMs > Date.parse(now)) return [];
  return [{ type: 'OrderCancelled', data: { orderId: state.orderId, from: state.status, reason: PAYMENT_WINDOW_EXPIRED, cancelledAt: now } }];
}

/** The reason an expired order's OrderCancelled carries (the audit trail and emails show it). */
export const PAYMENT_WINDOW_EXPIRED = 'payment window expired';

function requestRefund(command: Extract<OrderCommand, { type: 'RequestRefund' }>, state: ExistingOrderState): OrderEvent[] {
  if (!paidStatuses.has(state.status)) throw new InvalidTransitionError(state.status, 'REFUNDED', 'nothing was paid');
  if (state.refundRequested) return [];
  const { reason, now } = command.data;
  const rest = state.paidAmount - committedRefunds(state);
  if (rest <= 0) return [];
  return [
    {
      type: 'RefundRequested',
      data: {
        orderId: state.orderId,
        provider: state.paymentMethod,
        ...(state.paidReference ? { providerReference: state.paidReference } : {}),
        amount: rest,
        currency: state.currency,
        ...(reason ? { reason } : {}),
        stray: false,
        requestedAt: now,
      },
    },
  ];
}

/**
 * A provider confirms money went back, as the total it has given back for the payment so far (so a
 * repeated or late report carries no new news). A full refund of the order's own payment with no
 * partial refund before it moves the order to REFUNDED as it always did; anything else is counted
 * by partialRefunds. The full refund of a stray payment (one the order never counted) is recorded
 * as such and leaves the order as it is.
 */
function recordRefund(command: Extract<OrderCommand, { type: 'RecordRefund' }>, state: ExistingOrderState): OrderEvent[] {
  const { provider, providerReference, paymentReference, amount, currency, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  if (paymentReference !== undefined) {
    const stray = strayPaymentOf(state, paymentReference);
    if (stray) {
      if (stray.refunded) return [];
      if (currency !== stray.currency || amount < stray.amount) throw new PartialRefundError(stray.amount, stray.currency, amount, currency);
      return [
        {
          type: 'StrayPaymentRefunded',
          data: { orderId: state.orderId, provider, ...(providerReference ? { providerReference } : {}), paymentReference, amount, currency, refundedAt: now },
        },
      ];
    }
    if (state.paidReference !== undefined && paymentReference !== state.paidReference) return [];
  }
  if (state.status === 'REFUNDED') return [];
  const refundable = paidStatuses.has(state.status) || (state.status === 'CANCELLED' && state.refundRequested);
  if (!refundable) throw new InvalidTransitionError(state.status, 'REFUNDED', 'nothing was paid');
  if (currency !== state.currency) throw new PartialRefundError(state.paidAmount, state.currency, amount, currency);
  if (amount >= state.paidAmount && state.refunds.length === 0 && state.refundedAmount === 0) {
    return [
      {
        type: 'OrderRefunded',
        data: { orderId: state.orderId, provider, ...(providerReference ? { providerReference } : {}), amount, currency, refundedAt: now },
      },
    ];
  }
  return refundsUpTo(state, Math.min(amount, state.paidAmount), provider, providerReference, now);
}

/**
 * The provider has given back `total` of the order's payment. What is new since the ledger last
 * counted (total − refundedAmount) settles our requested refunds in request order while they fit;
 * the rest is a refund the provider made on its own. A total at or below what is counted is old news.
 */
function refundsUpTo(state: ExistingOrderState, total: number, provider: PaymentMethod, providerRefundId: string | undefined, now: string): OrderEvent[] {
  let remaining = total - state.refundedAmount;
  if (remaining <= 0) return [];
  const events: OrderEvent[] = [];
  let refunded = state.refundedAmount;
  const succeeded = (amount: number, refundId: string | undefined): OrderEvent => {
    refunded += amount;
    return {
      type: 'RefundSucceeded',
      data: {
        orderId: state.orderId,
        ...(refundId ? { refundId } : {}),
        provider,
        ...(providerRefundId ? { providerRefundId } : {}),
        amount,
        currency: state.currency,
        refundedAmount: refunded,
        refundedAt: now,
      },
    };
  };
  for (const refund of state.refunds) {
    if (refund.status !== 'requested' || refund.amount > remaining) continue;
    events.push(succeeded(refund.amount, refund.refundId));
    remaining -= refund.amount;
  }
  if (remaining > 0) events.push(succeeded(remaining, undefined));
  return [...events, ...fullyRefunded(state, refunded, provider, now)];
}

/** OrderRefunded once everything paid is back. */
function fullyRefunded(state: ExistingOrderState, refunded: number, provider: PaymentMethod, now: string): OrderEvent[] {
  if (refunded < state.paidAmount) return [];
  return [{ type: 'OrderRefunded', data: { orderId: state.orderId, provider, amount: refunded, currency: state.currency, refundedAt: now } }];
}

/** Money already promised back: given back, or requested and not refused. */
export function committedRefunds(state: ExistingOrderState): number {
  return state.refundedAmount + state.refunds.filter((r) => r.status === 'requested').reduce((sum, r) => sum + r.amount, 0);
}

function refundOf(state: ExistingOrderState, refundId: string): PartialRefund {
  const refund = state.refunds.find((r) => r.refundId === refundId);
  if (!refund) throw new RefundNotFoundError(state.orderId, refundId);
  return refund;
}

/** Prices lines from the order; a line may be given back up to what was ordered less what other refunds already give back. */
function pricedLines(state: ExistingOrderState, lines: readonly { productId: string; quantity: number }[]): RefundLine[] {
  const priced: RefundLine[] = [];
  for (const line of lines) {
    const item = state.items.find((i) => i.productId === line.productId);
    if (!item) throw new InvalidOrderError(`Product ${line.productId} is not in order ${state.orderId}`);
    const taken = state.refunds
      .filter((r) => r.status !== 'failed')
      .flatMap((r) => r.lines)
      .filter((l) => l.productId === line.productId)
      .reduce((sum, l) => sum + l.quantity, 0);
    const requested = priced.filter((l) => l.productId === line.productId).reduce((sum, l) => sum + l.quantity, 0) + line.quantity;
    if (requested + taken > item.quantity) {
      throw new InvalidOrderError(`Only ${item.quantity - taken} of ${item.sku} can still be refunded, not ${requested}`);
    }
    priced.push({ productId: line.productId, quantity: line.quantity, amount: item.unitAmount * line.quantity });
  }
  return priced;
}

function requestPartialRefund(command: Extract<OrderCommand, { type: 'RequestPartialRefund' }>, state: ExistingOrderState): OrderEvent[] {
  const { refundId, reason, returnId, now } = command.data;
  if (!paidStatuses.has(state.status)) throw new InvalidTransitionError(state.status, 'REFUNDED', 'nothing was paid');
  if (state.refundRequested) throw new InvalidTransitionError(state.status, 'REFUNDED', 'a full refund is already on its way');
  if (state.refunds.some((r) => r.refundId === refundId)) return [];
  const hasAmount = command.data.amount !== undefined;
  const hasLines = command.data.lines !== undefined && command.data.lines.length > 0;
  if (hasAmount === hasLines) throw new InvalidOrderError('A refund names an amount or lines, not both and not neither');
  const lines = hasLines ? pricedLines(state, command.data.lines!) : [];
  const amount = hasLines ? lines.reduce((sum, l) => sum + l.amount, 0) : command.data.amount!;
  if (!Number.isSafeInteger(amount) || amount < 1) throw new InvalidOrderError('A refund must give back at least one minor unit');
  const available = state.paidAmount - committedRefunds(state);
  if (amount > available) throw new RefundExceedsPaymentError(state.paidAmount, state.currency, available, amount);
  return [
    {
      type: 'PartialRefundRequested',
      data: {
        orderId: state.orderId,
        refundId,
        provider: state.paymentMethod,
        ...(state.paidReference ? { providerReference: state.paidReference } : {}),
        amount,
        currency: state.currency,
        ...(lines.length > 0 ? { lines } : {}),
        reason,
        ...(returnId ? { returnId } : {}),
        requestedAt: now,
      },
    },
  ];
}

function retryRefund(command: Extract<OrderCommand, { type: 'RetryRefund' }>, state: ExistingOrderState): OrderEvent[] {
  const refund = refundOf(state, command.data.refundId);
  if (refund.status !== 'failed') throw new RefundNotRetryableError(refund.refundId, refund.status);
  if (state.status === 'REFUNDED') throw new InvalidTransitionError(state.status, 'REFUNDED', 'everything paid is already back');
  const available = state.paidAmount - committedRefunds(state);
  if (refund.amount > available) throw new RefundExceedsPaymentError(state.paidAmount, state.currency, available, refund.amount);
  return [
    {
      type: 'RefundRetryRequested',
      data: { orderId: state.orderId, refundId: refund.refundId, attempt: refund.attempt + 1, amount: refund.amount, currency: state.currency, requestedAt: command.data.now },
    },
  ];
}

/** One of our refunds confirmed (a provider's synchronous answer, or an admin for MANUAL). Repeats are no-ops. */
function recordPartialRefund(command: Extract<OrderCommand, { type: 'RecordPartialRefund' }>, state: ExistingOrderState): OrderEvent[] {
  const { refundId, provider, providerRefundId, amount, currency, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  const refund = refundOf(state, refundId);
  if (refund.status === 'succeeded') return [];
  if (currency !== state.currency || amount !== refund.amount) throw new PartialRefundError(refund.amount, state.currency, amount, currency);
  const refunded = state.refundedAmount + amount;
  return [
    {
      type: 'RefundSucceeded',
      data: { orderId: state.orderId, refundId, provider, ...(providerRefundId ? { providerRefundId } : {}), amount, currency, refundedAmount: refunded, refundedAt: now },
    },
    ...(state.status === 'REFUNDED' ? [] : fullyRefunded(state, refunded, provider, now)),
  ];
}

function recordRefundFailure(command: Extract<OrderCommand, { type: 'RecordRefundFailure' }>, state: ExistingOrderState): OrderEvent[] {
  const { refundId, attempt, provider, reason, now } = command.data;
  if (provider !== state.paymentMethod) throw new PaymentMethodMismatchError(state.paymentMethod, provider);
  // Only the attempt in flight can fail: a confirmed refund stays confirmed, and an older attempt's
  // refusal arriving after an admin retried says nothing about the retry.
  const refund = refundOf(state, refundId);
  if (refund.status !== 'requested' || refund.attempt !== attempt) return [];
  return [{ type: 'RefundFailed', data: { orderId: state.orderId, refundId, attempt, provider, reason: reason.slice(0, 500) || 'refused', failedAt: now } }];
}

const DAY_MS = 24 * 60 * 60 * 1000;

function returnOf(state: ExistingOrderState, returnId: string): OrderReturn {
  const found = state.returns.find((r) => r.returnId === returnId);
  if (!found) throw new ReturnNotFoundError(state.orderId, returnId);
  return found;
}

/** The owner asks to send delivered lines back, within the return window, up to what was ordered less other returns. */
function requestReturn(command: Extract<OrderCommand, { type: 'RequestReturn' }>, state: ExistingOrderState): OrderEvent[] {
  const { returnId, lines, reason, windowDays, now } = command.data;
  if (state.returns.some((r) => r.returnId === returnId)) return [];
  if (state.status !== 'DELIVERED' || state.deliveredAt === undefined)
    throw new ReturnNotAllowedError(`order ${state.orderId} is ${state.status}; only a delivered order can be returned`);
  const closesAt = Date.parse(state.deliveredAt) + windowDays * DAY_MS;
  if (Date.parse(now) > closesAt) throw new ReturnNotAllowedError(`the ${windowDays}-day return window closed at ${new Date(closesAt).toISOString()}`);
  if (lines.length === 0) throw new InvalidOrderError('A return needs at least one line');
  for (const line of lines) {
    const item = state.items.find((i) => i.productId === line.productId);
    if (!item) throw new InvalidOrderError(`Product ${line.productId} is not in order ${state.orderId}`);
    const returning = state.returns
      .filter((r) => r.status !== 'rejected')
      .flatMap((r) => r.lines)
      .concat(lines)
      .filter((l) => l.productId === line.productId)
      .reduce((sum, l) => sum + l.quantity, 0);
    if (returning > item.quantity) throw new InvalidOrderError(`At most ${item.quantity} of ${item.sku} can be returned in all`);
  }
  return [{ type: 'ReturnRequested', data: { orderId: state.orderId, returnId, lines: lines.map((l) => ({ ...l })), reason, requestedAt: now } }];
}

function decideReturn(command: Extract<OrderCommand, { type: 'ApproveReturn' | 'RejectReturn' }>, state: ExistingOrderState): OrderEvent[] {
  const { returnId, now } = command.data;
  const found = returnOf(state, returnId);
  const to = command.type === 'ApproveReturn' ? 'approved' : 'rejected';
  if (found.status === to) return [];
  if (found.status !== 'requested') throw new ReturnTransitionError(returnId, found.status, to);
  if (command.type === 'ApproveReturn') return [{ type: 'ReturnApproved', data: { orderId: state.orderId, returnId, approvedAt: now } }];
  return [{ type: 'ReturnRejected', data: { orderId: state.orderId, returnId, reason: command.data.reason, rejectedAt: now } }];
}

/**
 * The goods of an approved return arrive: recorded with which lines are damaged, and their price
 * is refunded as a partial refund in the same append, up to what is left of the payment.
 */
function receiveReturn(command: Extract<OrderCommand, { type: 'ReceiveReturn' }>, state: ExistingOrderState): OrderEvent[] {
  const { returnId, damaged, refundId, now } = command.data;
  const found = returnOf(state, returnId);
  if (found.status === 'received') return [];
  if (found.status !== 'approved') throw new ReturnTransitionError(returnId, found.status, 'received');
  const received: OrderEvent = {
    type: 'ReturnReceived',
    data: { orderId: state.orderId, returnId, lines: found.lines.map((l) => ({ ...l, damaged: damaged.includes(l.productId) })), receivedAt: now },
  };
  const lines: RefundLine[] = found.lines.map((l) => ({ ...l, amount: (state.items.find((i) => i.productId === l.productId)?.unitAmount ?? 0) * l.quantity }));
  const amount = Math.min(
    lines.reduce((sum, l) => sum + l.amount, 0),
    state.paidAmount - committedRefunds(state),
  );
  if (amount < 1 || state.refundRequested || !paidStatuses.has(state.status)) return [received];
  return [
    received,
    {
      type: 'PartialRefundRequested',
      data: {
        orderId: state.orderId,
        refundId,
        provider: state.paymentMethod,
        ...(state.paidReference ? { providerReference: state.paidReference } : {}),
        amount,
        currency: state.currency,
        lines,
        reason: `return ${returnId}`,
        returnId,
        requestedAt: now,
      },
    },
  ];
}

export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  if (command.type === 'PlaceOrder') return placeOrder(command, state);
  if (state.status === 'NONE') throw new OrderNotFoundError('(unknown)');
  switch (command.type) {
    case 'InitiatePayment':
      return initiatePayment(command, state);
    case 'RecordPaymentSuccess':
      return recordPaymentSuccess(command, state);
    case 'RecordPaymentFailure':
      return recordPaymentFailure(command, state);
    case 'MarkPaid':
      return markPaid(command, state);
    case 'ChangeStatus':
      return changeStatus(command, state);
    case 'CancelOrder':
      return cancelOrder(command, state);
    case 'ExpireOrder':
      return expireOrder(command, state);
    case 'RequestRefund':
      return requestRefund(command, state);
    case 'RecordRefund':
      return recordRefund(command, state);
    case 'RequestPartialRefund':
      return requestPartialRefund(command, state);
    case 'RetryRefund':
      return retryRefund(command, state);
    case 'RecordPartialRefund':
      return recordPartialRefund(command, state);
    case 'RecordRefundFailure':
      return recordRefundFailure(command, state);
    case 'RequestReturn':
      return requestReturn(command, state);
    case 'ApproveReturn':
    case 'RejectReturn':
      return decideReturn(command, state);
    case 'ReceiveReturn':
      return receiveReturn(command, state);
    case 'EraseCustomerData':
      if (state.personalDataErased) return [];
      return [{ type: 'CustomerDataErased', data: { orderId: state.orderId, userId: state.userId, erasedAt: command.data.now } }];
    default: {
      const exhaustive: never = command;
      throw new Error(`unhandled command ${JSON.stringify(exhaustive)}`);
    }
  }
}

export function evolve(state: OrderState, event: OrderEvent): OrderState {
  if (event.type === 'OrderPlaced') {
    const { orderId, userId, totalAmount, currency, paymentMethod, placedAt } = event.data;
    return {
      status: 'PENDING',
      orderId,
      userId,
      totalAmount,
      currency,
      paymentMethod,
      placedAt,
      paymentReference: undefined,
      paidReference: undefined,
      paidAmount: 0,
      refundRequested: false,
      strayPayments: [],
      items: event.data.items,
      refundedAmount: 0,
      refunds: [],
      deliveredAt: undefined,
      returns: [],
      personalDataErased: false,
    };
  }
  if (state.status === 'NONE') return state; // a stream that does not start with OrderPlaced: nothing to fold onto
  switch (event.type) {
    case 'PaymentInitiated':
      return { ...state, status: 'PENDING', paymentReference: event.data.providerReference };
    case 'PaymentSucceeded':
      return { ...state, status: 'PAID', paidAmount: event.data.amount, paidReference: event.data.providerReference };
    case 'PaymentFailed':
      return { ...state, status: 'PAYMENT_FAILED' };
    case 'OrderStatusChanged':
      return { ...state, status: event.data.to, ...(event.data.to === 'DELIVERED' ? { deliveredAt: event.data.changedAt } : {}) };
    case 'OrderCancelled':
      return { ...state, status: 'CANCELLED' };
    case 'RefundRequested': {
      // Giving back money the order never counted leaves the order's own payment untouched.
      const { providerReference: reference, amount, currency } = event.data;
      if (refundIsStray(state, event.data)) {
        if (reference === undefined || strayPaymentOf(state, reference)) return state;
        return { ...state, strayPayments: [...state.strayPayments, { reference, amount, currency, refunded: false }] };
      }
      return { ...state, refundRequested: true, paidAmount: state.paidAmount || amount, paidReference: state.paidReference ?? reference };
    }
    case 'OrderRefunded':
      return { ...state, status: 'REFUNDED', refundedAmount: Math.max(state.refundedAmount, event.data.amount) };
    case 'StrayPaymentRefunded': {
      const reference = event.data.paymentReference;
      return { ...state, strayPayments: state.strayPayments.map((p) => (p.reference === reference ? { ...p, refunded: true } : p)) };
    }
    case 'PartialRefundRequested': {
      const { refundId, amount, lines } = event.data;
      if (state.refunds.some((r) => r.refundId === refundId)) return state;
      return { ...state, refunds: [...state.refunds, { refundId, amount, lines: lines ?? [], status: 'requested', attempt: 1 }] };
    }
    case 'RefundRetryRequested': {
      const { refundId, attempt } = event.data;
      return { ...state, refunds: state.refunds.map((r) => (r.refundId === refundId ? { ...r, status: 'requested', attempt } : r)) };
    }
    case 'RefundSucceeded': {
      const after = { ...state, refundedAmount: event.data.refundedAmount };
      return event.data.refundId ? withRefundStatus(after, event.data.refundId, 'succeeded') : after;
    }
    case 'RefundFailed':
      return withRefundStatus(state, event.data.refundId, 'failed');
    case 'ReturnRequested': {
      const { returnId, lines } = event.data;
      if (state.returns.some((r) => r.returnId === returnId)) return state;
      return { ...state, returns: [...state.returns, { returnId, lines, status: 'requested' }] };
    }
    case 'ReturnApproved':
      return withReturnStatus(state, event.data.returnId, 'approved');
    case 'ReturnRejected':
      return withReturnStatus(state, event.data.returnId, 'rejected');
    case 'ReturnReceived':
      return withReturnStatus(state, event.data.returnId, 'received');
    case 'CustomerDataErased':
      return { ...state, personalDataErased: true };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

function withReturnStatus(state: ExistingOrderState, returnId: string, status: OrderReturn['status']): ExistingOrderState {
  return { ...state, returns: state.returns.map((r) => (r.returnId === returnId ? { ...r, status } : r)) };
}

function withRefundStatus(state: ExistingOrderState, refundId: string, status: PartialRefund['status']): ExistingOrderState {
  return { ...state, refunds: state.refunds.map((r) => (r.refundId === refundId ? { ...r, status } : r)) };
}

export const orderDecider: Decider<OrderState, OrderCommand, OrderEvent> = {
  decide,
  evolve,
  initialState: initialOrderState,
};

/** The status an event leaves the order in, given the status before it (projections use this too). */
export function statusAfter(before: OrderStatus | undefined, event: OrderEvent): OrderStatus {
  switch (event.type) {
    case 'OrderPlaced':
    case 'PaymentInitiated':
      return 'PENDING';
    case 'PaymentSucceeded':
      return 'PAID';
    case 'PaymentFailed':
      return 'PAYMENT_FAILED';
    case 'OrderStatusChanged':
      return event.data.to;
    case 'OrderCancelled':
      return 'CANCELLED';
    case 'RefundRequested':
    case 'StrayPaymentRefunded':
    case 'PartialRefundRequested':
    case 'RefundRetryRequested':
    case 'RefundSucceeded':
    case 'RefundFailed':
    case 'ReturnRequested':
    case 'ReturnApproved':
    case 'ReturnRejected':
    case 'ReturnReceived':
    case 'CustomerDataErased':
      return before ?? 'PENDING';
    case 'OrderRefunded':
      return 'REFUNDED';
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

import type { Decider } from '../decider';
import type {
  FulfilmentStatus,
  OrderEvent,
  OrderItem,
  OrderStatus,
  PaymentMethod,
} from '../../events/orderEvents';
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
      /** CustomerDataErased was recorded: the order's personal data can never be opened again. */
      personalDataErased: boolean;
    };

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
  return (
    awaitingPayment.has(before.status) ||
    (reference !== undefined && reference !== before.paidReference && (before.paidReference !== undefined || before.refundRequested))
  );
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
  return [
    { type: 'OrderPlaced', data: { orderId, userId, items, totalAmount, currency, paymentMethod, placedAt: now, ...(personalData ? { personalData } : {}) } },
  ];
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
    return [
      cancelled,
      {
        type: 'RefundRequested',
        data: {
          orderId: state.orderId,
          provider: state.paymentMethod,
          ...(state.paidReference ? { providerReference: state.paidReference } : {}),
          amount: state.paidAmount,
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
  return [
    {
      type: 'RefundRequested',
      data: {
        orderId: state.orderId,
        provider: state.paymentMethod,
        ...(state.paidReference ? { providerReference: state.paidReference } : {}),
        amount: state.paidAmount,
        currency: state.currency,
        ...(reason ? { reason } : {}),
        stray: false,
        requestedAt: now,
      },
    },
  ];
}

/**
 * A provider confirms money went back. Only full refunds of the order's own payment move it to
 * REFUNDED; the full refund of a stray payment (one the order never counted) is recorded as such
 * and leaves the order as it is; a partial refund is refused (the ledger does not model partially
 * refunded payments).
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
  if (currency !== state.currency || amount < state.paidAmount) throw new PartialRefundError(state.paidAmount, state.currency, amount, currency);
  return [
    {
      type: 'OrderRefunded',
      data: { orderId: state.orderId, provider, ...(providerReference ? { providerReference } : {}), amount, currency, refundedAt: now },
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
      return { ...state, status: event.data.to };
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
      return { ...state, status: 'REFUNDED' };
    case 'StrayPaymentRefunded': {
      const reference = event.data.paymentReference;
      return { ...state, strayPayments: state.strayPayments.map((p) => (p.reference === reference ? { ...p, refunded: true } : p)) };
    }
    case 'CustomerDataErased':
      return { ...state, personalDataErased: true };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
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

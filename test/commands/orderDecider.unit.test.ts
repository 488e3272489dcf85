import { decide, evolve, initialOrderState, statusAfter, type OrderCommand, type OrderState } from '../../src/commands/order/orderDecider';
import {
  InvalidOrderError,
  InvalidTransitionError,
  OrderAlreadyExistsError,
  OrderAmountBelowMinimumError,
  OrderAmountNotChargeableError,
  OrderNotFoundError,
  PartialRefundError,
  PaymentMethodMismatchError,
} from '../../src/commands/order/orderErrors';
import type { FulfilmentStatus, OrderEvent, OrderItem, OrderStatus, PaymentMethod } from '../../src/events/orderEvents';

const orderId = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const userId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

const items: OrderItem[] = [
  { productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', sku: 'MUG-01', name: 'Mug', quantity: 2, unitAmount: 1250, lineAmount: 2500 },
  { productId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', sku: 'TEA-07', name: 'Tea', quantity: 1, unitAmount: 999, lineAmount: 999 },
];
const total = 3499;

const placedAt = '2026-03-01T09:00:00.000Z';
const before = '2026-03-01T09:05:00.000Z';
const now = '2026-03-02T12:00:00.000Z';

const placed = (paymentMethod: PaymentMethod = 'STRIPE', at = placedAt): OrderEvent => ({
  type: 'OrderPlaced',
  data: { orderId, userId, items, totalAmount: total, currency: 'USD', paymentMethod, placedAt: at },
});

const initiated = (providerReference: string, provider: PaymentMethod = 'STRIPE', at = before): OrderEvent => ({
  type: 'PaymentInitiated',
  data: { orderId, provider, providerReference, amount: total, currency: 'USD', initiatedAt: at },
});

const succeeded = (provider: PaymentMethod = 'STRIPE', providerReference: string | null = 'pi_1', at = before): OrderEvent => ({
  type: 'PaymentSucceeded',
  data: { orderId, provider, ...(providerReference ? { providerReference } : {}), amount: total, currency: 'USD', succeededAt: at },
});

const failed = (reason: string, providerReference: string | null = 'pi_1', at = before): OrderEvent => ({
  type: 'PaymentFailed',
  data: { orderId, provider: 'STRIPE', ...(providerReference ? { providerReference } : {}), reason, failedAt: at },
});

const statusChanged = (from: OrderStatus, to: FulfilmentStatus, at = before): OrderEvent => ({
  type: 'OrderStatusChanged',
  data: { orderId, from, to, changedAt: at },
});

const cancelled = (from: OrderStatus, reason?: string, at = before): OrderEvent => ({
  type: 'OrderCancelled',
  data: { orderId, from, ...(reason ? { reason } : {}), cancelledAt: at },
});

/** `stray` undefined: written before v3, which said whether the money was the order's own. */
const refundRequested = (reason: string | undefined, amount = total, provider: PaymentMethod = 'STRIPE', at = before, providerReference?: string, stray?: boolean): OrderEvent => ({
  type: 'RefundRequested',
  data: {
    orderId,
    provider,
    ...(providerReference ? { providerReference } : {}),
    amount,
    currency: 'USD',
    ...(reason ? { reason } : {}),
    ...(stray !== undefined ? { stray } : {}),
    requestedAt: at,
  },
});

const strayRefunded = (paymentReference: string, amount = total, at = now): OrderEvent => ({
  type: 'StrayPaymentRefunded',
  data: { orderId, provider: 'STRIPE', providerReference: 're_2', paymentReference, amount, currency: 'USD', refundedAt: at },
});

const refunded = (at = before): OrderEvent => ({
  type: 'OrderRefunded',
  data: { orderId, provider: 'STRIPE', providerReference: 're_1', amount: total, currency: 'USD', refundedAt: at },
});

const placeOrder = (overrides: Partial<Extract<OrderCommand, { type: 'PlaceOrder' }>['data']> = {}): OrderCommand => ({
  type: 'PlaceOrder',
  data: { orderId, userId, items, currency: 'USD', paymentMethod: 'STRIPE', now, ...overrides },
});

const initiatePayment = (providerReference = 'pi_new', provider: PaymentMethod = 'STRIPE'): OrderCommand => ({
  type: 'InitiatePayment',
  data: { provider, providerReference, now },
});

const paymentSuccess = (overrides: Partial<Extract<OrderCommand, { type: 'RecordPaymentSuccess' }>['data']> = {}): OrderCommand => ({
  type: 'RecordPaymentSuccess',
  data: { provider: 'STRIPE', providerReference: 'pi_new', amount: total, currency: 'USD', now, ...overrides },
});

const paymentFailure = (providerReference: string | null = 'pi_new'): OrderCommand => ({
  type: 'RecordPaymentFailure',
  data: { provider: 'STRIPE', ...(providerReference ? { providerReference } : {}), reason: 'card_declined', now },
});

const markPaid: OrderCommand = { type: 'MarkPaid', data: { now } };
const changeStatus = (to: FulfilmentStatus): OrderCommand => ({ type: 'ChangeStatus', data: { to, now } });
const cancelOrder = (by: 'user' | 'admin', reason?: string): OrderCommand => ({
  type: 'CancelOrder',
  data: { by, ...(reason ? { reason } : {}), now },
});
const requestRefund = (reason?: string): OrderCommand => ({ type: 'RequestRefund', data: { ...(reason ? { reason } : {}), now } });
const recordRefund: OrderCommand = {
  type: 'RecordRefund',
  data: { provider: 'STRIPE', providerReference: 're_1', amount: total, currency: 'USD', now },
};

type ErrorClass = new (...args: never[]) => Error;

function given(...events: OrderEvent[]) {
  const state = events.reduce(evolve, initialOrderState);
  return {
    state,
    when(command: OrderCommand) {
      const run = (): OrderEvent[] => decide(command, state);
      return {
        then(expected: OrderEvent[]): void {
          expect(run()).toStrictEqual(expected);
        },
        thenThrows(errorClass: ErrorClass, message: RegExp, code?: string): void {
          let caught: unknown;
          try {
            run();
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(errorClass);
          expect((caught as Error).message).toMatch(message);
          if (code !== undefined) expect((caught as { code?: string }).code).toBe(code);
        },
        thenRejectsTransition(from: OrderStatus, to: OrderStatus, because?: RegExp): void {
          let caught: unknown;
          try {
            run();
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(InvalidTransitionError);
          const error = caught as InvalidTransitionError;
          expect(error.code).toBe('ORDER_INVALID_TRANSITION');
          expect(error.message).toMatch(new RegExp(`^${from} → ${to} is not allowed\\b`));
          expect({ from: error.from, to: error.to }).toEqual({ from, to });
          if (because) expect(error.message).toMatch(because);
        },
      };
    },
  };
}

const fold = (events: OrderEvent[]): OrderState => events.reduce(evolve, initialOrderState);

const paidHistory = (method: PaymentMethod): OrderEvent[] =>
  method === 'MANUAL' ? [placed(method), succeeded('MANUAL', null)] : [placed(method), initiated('pi_1', method), succeeded(method)];

const histories = (method: PaymentMethod) =>
  ({
    NONE: [],
    PENDING: [placed(method)],
    'PENDING with a payment attempt': [placed(method), initiated('pi_1', method)],
    PAYMENT_FAILED: [placed(method), initiated('pi_1', method), failed('card_declined')],
    PAID: paidHistory(method),
    'PAID with a refund requested': [...paidHistory(method), refundRequested('damaged', total, method)],
    PROCESSING: [...paidHistory(method), statusChanged('PAID', 'PROCESSING')],
    SHIPPED: [...paidHistory(method), statusChanged('PAID', 'PROCESSING'), statusChanged('PROCESSING', 'SHIPPED')],
    DELIVERED: [...paidHistory(method), statusChanged('PAID', 'PROCESSING'), statusChanged('PROCESSING', 'SHIPPED'), statusChanged('SHIPPED', 'DELIVERED')],
    'CANCELLED before payment': [placed(method), cancelled('PENDING', 'changed my mind')],
    'CANCELLED after payment': [...paidHistory(method), cancelled('PAID'), refundRequested('order cancelled after payment', total, method)],
    'CANCELLED, then paid late': [placed(method), cancelled('PENDING'), refundRequested('payment received after cancellation', total, method)],
    REFUNDED: [...paidHistory(method), refundRequested('damaged', total, method), refunded()],
  }) satisfies Record<string, OrderEvent[]>;

type StateName = keyof ReturnType<typeof histories>;

const statusOf: Record<StateName, OrderState['status']> = {
  NONE: 'NONE',
  PENDING: 'PENDING',
  'PENDING with a payment attempt': 'PENDING',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  PAID: 'PAID',
  'PAID with a refund requested': 'PAID',
  PROCESSING: 'PROCESSING',
  SHIPPED: 'SHIPPED',
  DELIVERED: 'DELIVERED',
  'CANCELLED before payment': 'CANCELLED',
  'CANCELLED after payment': 'CANCELLED',
  'CANCELLED, then paid late': 'CANCELLED',
  REFUNDED: 'REFUNDED',
};

const stateNames = Object.keys(statusOf) as StateName[];

describe('order histories used by these tests', () => {
  it.each(stateNames)('when the "%s" history is folded, then the order is in the status it is named after', (name) => {
    expect(fold(histories('STRIPE')[name]).status).toBe(statusOf[name]);
    expect(fold(histories('MANUAL')[name]).status).toBe(statusOf[name]);
  });
});

type Outcome =
  | { kind: 'events'; events: OrderEvent[] }
  | { kind: 'transition'; from: OrderStatus; to: OrderStatus; because?: RegExp }
  | { kind: 'error'; errorClass: ErrorClass; code: string; message: RegExp };

const emits = (...events: OrderEvent[]): Outcome => ({ kind: 'events', events });
const noChange: Outcome = emits();
const rejects = (from: OrderStatus, to: OrderStatus, because?: RegExp): Outcome => ({
  kind: 'transition',
  from,
  to,
  ...(because ? { because } : {}),
});
const notFound: Outcome = { kind: 'error', errorClass: OrderNotFoundError, code: 'ORDER_NOT_FOUND', message: /not found/ };
const alreadyExists: Outcome = {
  kind: 'error',
  errorClass: OrderAlreadyExistsError,
  code: 'ORDER_ALREADY_EXISTS',
  message: new RegExp(`Order ${orderId} already exists`),
};
const methodMismatch = (actual: PaymentMethod): Outcome => ({
  kind: 'error',
  errorClass: PaymentMethodMismatchError,
  code: 'PAYMENT_METHOD_MISMATCH',
  message: new RegExp(`paid by STRIPE, not ${actual}`),
});

const stripeCommands = {
  PlaceOrder: placeOrder(),
  InitiatePayment: initiatePayment('pi_new'),
  'InitiatePayment with another provider': initiatePayment('pp_1', 'PAYPAL'),
  RecordPaymentSuccess: paymentSuccess(),
  RecordPaymentFailure: paymentFailure(),
  MarkPaid: markPaid,
  'ChangeStatus to PROCESSING': changeStatus('PROCESSING'),
  'ChangeStatus to SHIPPED': changeStatus('SHIPPED'),
  'ChangeStatus to DELIVERED': changeStatus('DELIVERED'),
  'CancelOrder by user': cancelOrder('user', 'changed my mind'),
  'CancelOrder by admin': cancelOrder('admin', 'out of stock'),
  RequestRefund: requestRefund('damaged'),
  RecordRefund: recordRefund,
} satisfies Record<string, OrderCommand>;

type CommandName = keyof typeof stripeCommands;

// What each command emits when it is legal, stamped with the command's time.
const placedNow = placed('STRIPE', now);
const initiatedNow = initiated('pi_new', 'STRIPE', now);
const succeededNow = succeeded('STRIPE', 'pi_new', now);
const failedNow = failed('card_declined', 'pi_new', now);
const cancelledNow = (from: OrderStatus) => cancelled(from, 'changed my mind', now);
const adminCancelledNow = (from: OrderStatus) => cancelled(from, 'out of stock', now);
// A STRIPE order's paid history pays with pi_1: refunds of the order's payment name it.
const refundRequestedNow = refundRequested('damaged', total, 'STRIPE', now, 'pi_1', false);
// The commands' success is for pi_new; for an order that already counts another payment it is given back as stray money.
const duplicateRefundedNow = refundRequested('duplicate payment', total, 'STRIPE', now, 'pi_new', true);
// The first money after cancellation is the order's own payment; any after that is stray.
const lateRefundedNow = (stray: boolean) => refundRequested('payment received after cancellation', total, 'STRIPE', now, 'pi_new', stray);
const refundedNow = refunded(now);

/** Columns that behave the same in every existing order. */
const anyExistingOrder = {
  PlaceOrder: alreadyExists,
  'InitiatePayment with another provider': methodMismatch('PAYPAL'),
  MarkPaid: methodMismatch('MANUAL'),
} satisfies Partial<Record<CommandName, Outcome>>;

/** `attempt`: whether a payment attempt (pi_1) is on record; the commands report on pi_new. */
const awaitingPayment = (status: 'PENDING' | 'PAYMENT_FAILED', attempt: boolean): Record<CommandName, Outcome> => ({
  ...anyExistingOrder,
  InitiatePayment: emits(initiatedNow),
  // Money for this order of the right amount pays it, even from a replaced attempt.
  RecordPaymentSuccess: emits(succeededNow),
  // The failure of a replaced attempt is stale news: the current one may still succeed.
  RecordPaymentFailure: attempt ? noChange : emits(failedNow),
  'ChangeStatus to PROCESSING': rejects(status, 'PROCESSING'),
  'ChangeStatus to SHIPPED': rejects(status, 'SHIPPED'),
  'ChangeStatus to DELIVERED': rejects(status, 'DELIVERED'),
  'CancelOrder by user': emits(cancelledNow(status)),
  'CancelOrder by admin': emits(adminCancelledNow(status)),
  RequestRefund: rejects(status, 'REFUNDED', /nothing was paid/),
  RecordRefund: rejects(status, 'REFUNDED', /nothing was paid/),
});

const cancelledOrder = (paymentReceived: boolean): Record<CommandName, Outcome> => ({
  ...anyExistingOrder,
  InitiatePayment: rejects('CANCELLED', 'PENDING', /awaiting payment/),
  // pi_new is not the payment already received (if any): it is given back too.
  RecordPaymentSuccess: emits(lateRefundedNow(paymentReceived)),
  RecordPaymentFailure: noChange,
  'ChangeStatus to PROCESSING': rejects('CANCELLED', 'PROCESSING'),
  'ChangeStatus to SHIPPED': rejects('CANCELLED', 'SHIPPED'),
  'ChangeStatus to DELIVERED': rejects('CANCELLED', 'DELIVERED'),
  'CancelOrder by user': rejects('CANCELLED', 'CANCELLED'),
  'CancelOrder by admin': rejects('CANCELLED', 'CANCELLED'),
  RequestRefund: rejects('CANCELLED', 'REFUNDED'),
  RecordRefund: paymentReceived ? emits(refundedNow) : rejects('CANCELLED', 'REFUNDED', /nothing was paid/),
});

const matrix: Record<StateName, Record<CommandName, Outcome>> = {
  NONE: {
    PlaceOrder: emits(placedNow),
    InitiatePayment: notFound,
    'InitiatePayment with another provider': notFound,
    RecordPaymentSuccess: notFound,
    RecordPaymentFailure: notFound,
    MarkPaid: notFound,
    'ChangeStatus to PROCESSING': notFound,
    'ChangeStatus to SHIPPED': notFound,
    'ChangeStatus to DELIVERED': notFound,
    'CancelOrder by user': notFound,
    'CancelOrder by admin': notFound,
    RequestRefund: notFound,
    RecordRefund: notFound,
  },
  PENDING: awaitingPayment('PENDING', false),
  'PENDING with a payment attempt': awaitingPayment('PENDING', true),
  PAYMENT_FAILED: awaitingPayment('PAYMENT_FAILED', true),
  PAID: {
    ...anyExistingOrder,
    InitiatePayment: rejects('PAID', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': emits(statusChanged('PAID', 'PROCESSING', now)),
    'ChangeStatus to SHIPPED': rejects('PAID', 'SHIPPED'),
    'ChangeStatus to DELIVERED': rejects('PAID', 'DELIVERED'),
    'CancelOrder by user': rejects('PAID', 'CANCELLED', /only an admin/),
    'CancelOrder by admin': emits(adminCancelledNow('PAID'), refundRequested('order cancelled after payment', total, 'STRIPE', now, 'pi_1', false)),
    RequestRefund: emits(refundRequestedNow),
    RecordRefund: emits(refundedNow),
  },
  'PAID with a refund requested': {
    ...anyExistingOrder,
    InitiatePayment: rejects('PAID', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': rejects('PAID', 'PROCESSING', /a refund is pending/),
    'ChangeStatus to SHIPPED': rejects('PAID', 'SHIPPED'),
    'ChangeStatus to DELIVERED': rejects('PAID', 'DELIVERED'),
    'CancelOrder by user': rejects('PAID', 'CANCELLED', /only an admin/),
    // The refund is already requested: asking for it a second time could pay it back twice.
    'CancelOrder by admin': emits(adminCancelledNow('PAID')),
    RequestRefund: noChange,
    RecordRefund: emits(refundedNow),
  },
  PROCESSING: {
    ...anyExistingOrder,
    InitiatePayment: rejects('PROCESSING', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': rejects('PROCESSING', 'PROCESSING'),
    'ChangeStatus to SHIPPED': emits(statusChanged('PROCESSING', 'SHIPPED', now)),
    'ChangeStatus to DELIVERED': rejects('PROCESSING', 'DELIVERED'),
    'CancelOrder by user': rejects('PROCESSING', 'CANCELLED'),
    'CancelOrder by admin': rejects('PROCESSING', 'CANCELLED'),
    RequestRefund: emits(refundRequestedNow),
    RecordRefund: emits(refundedNow),
  },
  SHIPPED: {
    ...anyExistingOrder,
    InitiatePayment: rejects('SHIPPED', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': rejects('SHIPPED', 'PROCESSING'),
    'ChangeStatus to SHIPPED': rejects('SHIPPED', 'SHIPPED'),
    'ChangeStatus to DELIVERED': emits(statusChanged('SHIPPED', 'DELIVERED', now)),
    'CancelOrder by user': rejects('SHIPPED', 'CANCELLED'),
    'CancelOrder by admin': rejects('SHIPPED', 'CANCELLED'),
    RequestRefund: emits(refundRequestedNow),
    RecordRefund: emits(refundedNow),
  },
  DELIVERED: {
    ...anyExistingOrder,
    InitiatePayment: rejects('DELIVERED', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': rejects('DELIVERED', 'PROCESSING'),
    'ChangeStatus to SHIPPED': rejects('DELIVERED', 'SHIPPED'),
    'ChangeStatus to DELIVERED': rejects('DELIVERED', 'DELIVERED'),
    'CancelOrder by user': rejects('DELIVERED', 'CANCELLED'),
    'CancelOrder by admin': rejects('DELIVERED', 'CANCELLED'),
    RequestRefund: emits(refundRequestedNow),
    RecordRefund: emits(refundedNow),
  },
  'CANCELLED before payment': cancelledOrder(false),
  'CANCELLED after payment': cancelledOrder(true),
  'CANCELLED, then paid late': cancelledOrder(true),
  REFUNDED: {
    ...anyExistingOrder,
    InitiatePayment: rejects('REFUNDED', 'PENDING', /awaiting payment/),
    RecordPaymentSuccess: emits(duplicateRefundedNow),
    RecordPaymentFailure: noChange,
    'ChangeStatus to PROCESSING': rejects('REFUNDED', 'PROCESSING'),
    'ChangeStatus to SHIPPED': rejects('REFUNDED', 'SHIPPED'),
    'ChangeStatus to DELIVERED': rejects('REFUNDED', 'DELIVERED'),
    'CancelOrder by user': rejects('REFUNDED', 'CANCELLED'),
    'CancelOrder by admin': rejects('REFUNDED', 'CANCELLED'),
    RequestRefund: rejects('REFUNDED', 'REFUNDED'),
    RecordRefund: noChange,
  },
};

function describeOutcome(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'events':
      return outcome.events.length === 0 ? 'nothing happens' : `it emits ${outcome.events.map((e) => e.type).join(' + ')}`;
    case 'transition':
      return `it is rejected as a transition from ${outcome.from} to ${outcome.to}`;
    case 'error':
      return `it fails with ${outcome.code}`;
    default: {
      const exhaustive: never = outcome;
      return exhaustive;
    }
  }
}

const matrixCases = stateNames.flatMap((state) =>
  (Object.keys(stripeCommands) as CommandName[]).map((command) => {
    const outcome = matrix[state][command];
    return { state, command, outcome, title: describeOutcome(outcome) };
  }),
);

describe('decide: every command in every state of a STRIPE order', () => {
  it.each(matrixCases)('when $command on a "$state" order, then $title', ({ state, command, outcome }) => {
    const scenario = given(...histories('STRIPE')[state]).when(stripeCommands[command]);
    switch (outcome.kind) {
      case 'events':
        scenario.then(outcome.events);
        break;
      case 'transition':
        scenario.thenRejectsTransition(outcome.from, outcome.to, outcome.because);
        break;
      case 'error':
        scenario.thenThrows(outcome.errorClass, outcome.message, outcome.code);
        break;
      default: {
        const exhaustive: never = outcome;
        throw new Error(`unhandled outcome ${JSON.stringify(exhaustive)}`);
      }
    }
  });
});

describe('decide: MarkPaid on a MANUAL order in every state', () => {
  const manualPaidNow: OrderEvent = {
    type: 'PaymentSucceeded',
    data: { orderId, provider: 'MANUAL', amount: total, currency: 'USD', succeededAt: now },
  };
  const expected: Record<Exclude<StateName, 'NONE'>, OrderStatus | 'paid'> = {
    PENDING: 'paid',
    'PENDING with a payment attempt': 'paid',
    PAYMENT_FAILED: 'paid',
    PAID: 'PAID',
    'PAID with a refund requested': 'PAID',
    PROCESSING: 'PROCESSING',
    SHIPPED: 'SHIPPED',
    DELIVERED: 'DELIVERED',
    'CANCELLED before payment': 'CANCELLED',
    'CANCELLED after payment': 'CANCELLED',
    'CANCELLED, then paid late': 'CANCELLED',
    REFUNDED: 'REFUNDED',
  };
  const cases = Object.entries(expected) as [Exclude<StateName, 'NONE'>, OrderStatus | 'paid'][];

  it.each(cases.filter(([, result]) => result === 'paid'))('when MarkPaid on a "%s" MANUAL order, then it emits a MANUAL PaymentSucceeded for the order total', (state) => {
    given(...histories('MANUAL')[state])
      .when(markPaid)
      .then([manualPaidNow]);
  });

  it.each(cases.filter(([, result]) => result !== 'paid'))('when MarkPaid on a "%s" MANUAL order, then it is rejected as a transition from %s to PAID', (state, from) => {
    given(...histories('MANUAL')[state])
      .when(markPaid)
      .thenRejectsTransition(from as OrderStatus, 'PAID');
  });

  it('when MarkPaid on an order that does not exist, then it fails with ORDER_NOT_FOUND', () => {
    given()
      .when(markPaid)
      .thenThrows(OrderNotFoundError, /not found/, 'ORDER_NOT_FOUND');
  });

  it('when MarkPaid on a PAYPAL order, then it fails because the order is not paid manually', () => {
    given(placed('PAYPAL'))
      .when(markPaid)
      .thenThrows(PaymentMethodMismatchError, /paid by PAYPAL, not MANUAL/, 'PAYMENT_METHOD_MISMATCH');
  });
});

describe('decide: placing an order', () => {
  it('when an order is placed, then the total is the sum of the line amounts', () => {
    given()
      .when(placeOrder({ paymentMethod: 'PAYPAL', currency: 'EUR' }))
      .then([
        {
          type: 'OrderPlaced',
          data: { orderId, userId, items, totalAmount: 3499, currency: 'EUR', paymentMethod: 'PAYPAL', placedAt: now },
        },
      ]);
  });

  it('when an order has no items, then it is invalid', () => {
    given()
      .when(placeOrder({ items: [] }))
      .thenThrows(InvalidOrderError, /at least one item/, 'ORDER_INVALID');
  });

  it('when a line amount is not unit amount times quantity, then it is invalid and names the sku', () => {
    const wrongLine = [items[0]!, { ...items[1]!, quantity: 3, lineAmount: 999 }];
    given()
      .when(placeOrder({ items: wrongLine }))
      .thenThrows(InvalidOrderError, /TEA-07/, 'ORDER_INVALID');
  });

  it('when the total would not be a safe integer, then it is invalid', () => {
    const huge = 2 ** 52;
    const hugeItems: OrderItem[] = [
      { ...items[0]!, quantity: 1, unitAmount: huge, lineAmount: huge },
      { ...items[1]!, quantity: 1, unitAmount: huge, lineAmount: huge },
    ];
    given()
      .when(placeOrder({ items: hugeItems }))
      .thenThrows(InvalidOrderError, /too large/, 'ORDER_INVALID');
  });

  const priced = (unitAmount: number, currency = 'USD'): Partial<Extract<OrderCommand, { type: 'PlaceOrder' }>['data']> => ({
    items: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', sku: 'FREEBIE', name: 'Sticker', quantity: 1, unitAmount, lineAmount: unitAmount }],
    currency,
  });

  it("when a STRIPE order totals nothing, then it is refused naming Stripe's minimum for its currency", () => {
    given()
      .when(placeOrder(priced(0)))
      .thenThrows(OrderAmountBelowMinimumError, /paid by STRIPE must total at least 0\.50 USD; this one totals 0\.00 USD/, 'ORDER_AMOUNT_BELOW_MINIMUM');
  });

  it('when a STRIPE order totals one cent less than the minimum, then it is refused; at the minimum it is placed', () => {
    given()
      .when(placeOrder(priced(49)))
      .thenThrows(OrderAmountBelowMinimumError, /0\.50 USD/, 'ORDER_AMOUNT_BELOW_MINIMUM');
    given()
      .when(placeOrder(priced(29, 'GBP')))
      .thenThrows(OrderAmountBelowMinimumError, /at least 0\.30 GBP; this one totals 0\.29 GBP/);
    expect(decide(placeOrder(priced(50)), initialOrderState)).toHaveLength(1);
    expect(decide(placeOrder(priced(50, 'JPY')), initialOrderState)).toHaveLength(1);
  });

  it('when a PAYPAL order totals nothing, then it is refused; a cent is enough', () => {
    given()
      .when(placeOrder({ ...priced(0), paymentMethod: 'PAYPAL' }))
      .thenThrows(OrderAmountBelowMinimumError, /PAYPAL must total at least 0\.01 USD/);
    expect(decide(placeOrder({ ...priced(1), paymentMethod: 'PAYPAL' }), initialOrderState)).toHaveLength(1);
  });

  it('when the method cannot charge the total exactly, then it is refused; MANUAL takes it', () => {
    given()
      .when(placeOrder(priced(1235, 'KWD')))
      .thenThrows(OrderAmountNotChargeableError, /STRIPE cannot charge 1\.235 KWD exactly/, 'ORDER_AMOUNT_NOT_CHARGEABLE');
    given()
      .when(placeOrder({ ...priced(17_550, 'HUF'), paymentMethod: 'PAYPAL' }))
      .thenThrows(OrderAmountNotChargeableError, /PAYPAL cannot charge 175\.50 HUF/);
    expect(decide(placeOrder(priced(1230, 'KWD')), initialOrderState)).toHaveLength(1);
    expect(decide(placeOrder({ ...priced(17_500, 'HUF'), paymentMethod: 'PAYPAL' }), initialOrderState)).toHaveLength(1);
    expect(decide(placeOrder({ ...priced(1235, 'KWD'), paymentMethod: 'MANUAL' }), initialOrderState)).toHaveLength(1);
  });

  it('when a MANUAL order totals nothing, then it is placed: nothing is charged online', () => {
    expect(decide(placeOrder({ ...priced(0), paymentMethod: 'MANUAL' }), initialOrderState)).toMatchObject([{ type: 'OrderPlaced', data: { totalAmount: 0 } }]);
  });

  it('when the same order is placed twice, then the second fails with ORDER_ALREADY_EXISTS', () => {
    given(placed())
      .when(placeOrder())
      .thenThrows(OrderAlreadyExistsError, /already exists/, 'ORDER_ALREADY_EXISTS');
  });
});

describe('decide: starting a payment', () => {
  it('when the same payment attempt is started twice, then the second changes nothing', () => {
    given(placed(), initiated('pi_1')).when(initiatePayment('pi_1')).then([]);
  });

  it('when a new attempt replaces a pending one, then it is recorded with the order total', () => {
    given(placed(), initiated('pi_1'))
      .when(initiatePayment('pi_2'))
      .then([
        {
          type: 'PaymentInitiated',
          data: { orderId, provider: 'STRIPE', providerReference: 'pi_2', amount: total, currency: 'USD', initiatedAt: now },
        },
      ]);
  });

  it('when a failed payment is retried with the same reference, then a new attempt is recorded and the order is pending again', () => {
    const scenario = given(placed(), initiated('pi_1'), failed('card_declined'));
    scenario.when(initiatePayment('pi_1')).then([initiated('pi_1', 'STRIPE', now)]);
    expect(evolve(scenario.state, initiated('pi_1', 'STRIPE', now)).status).toBe('PENDING');
  });

  it("when a payment is started with another provider than the order's, then it fails even if the order is awaiting payment", () => {
    given(placed('PAYPAL'))
      .when(initiatePayment('pi_1', 'STRIPE'))
      .thenThrows(PaymentMethodMismatchError, /paid by PAYPAL, not STRIPE/, 'PAYMENT_METHOD_MISMATCH');
  });
});

describe('decide: payment results', () => {
  it('when a payment succeeds without a provider reference, then the event carries none', () => {
    given(placed())
      .when(paymentSuccess({ providerReference: undefined }))
      .then([succeeded('STRIPE', null, now)]);
  });

  it('when a payment of the wrong amount arrives, then it is recorded as a failure naming both amounts, what was received is given back, and the order is not paid', () => {
    const scenario = given(placed(), initiated('pi_1'));
    const events = decide(paymentSuccess({ amount: total - 1, providerReference: 'pi_1' }), scenario.state);
    const reason = 'amount mismatch: expected 3499 USD, received 3498 USD';
    expect(events).toStrictEqual([
      { type: 'PaymentFailed', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', reason, failedAt: now } },
      {
        type: 'RefundRequested',
        data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: total - 1, currency: 'USD', reason, stray: true, requestedAt: now },
      },
    ]);
    const after = events.reduce(evolve, scenario.state);
    // The refund is of money the order never counted: the order's own refund is still open.
    expect(after).toMatchObject({
      status: 'PAYMENT_FAILED',
      paidAmount: 0,
      paidReference: undefined,
      refundRequested: false,
      strayPayments: [{ reference: 'pi_1', amount: total - 1, currency: 'USD', refunded: false }],
    });
  });

  it('when a payment in the wrong currency arrives, then it is recorded as a failure and given back, never as PAID', () => {
    const scenario = given(placed());
    const events = decide(paymentSuccess({ currency: 'EUR', providerReference: undefined }), scenario.state);
    const reason = 'amount mismatch: expected 3499 USD, received 3499 EUR';
    expect(events).toStrictEqual([
      { type: 'PaymentFailed', data: { orderId, provider: 'STRIPE', reason, failedAt: now } },
      { type: 'RefundRequested', data: { orderId, provider: 'STRIPE', amount: total, currency: 'EUR', reason, stray: true, requestedAt: now } },
    ]);
    expect(events.reduce(evolve, scenario.state)).toMatchObject({ status: 'PAYMENT_FAILED', refundRequested: false });
  });

  it('when the wrong amount arrives on a replaced attempt, then it is given back and the current attempt is left alone', () => {
    given(placed(), initiated('pi_1'), initiated('pi_2'))
      .when(paymentSuccess({ amount: 100, providerReference: 'pi_1' }))
      .then([
        {
          type: 'RefundRequested',
          data: {
            orderId,
            provider: 'STRIPE',
            providerReference: 'pi_1',
            amount: 100,
            currency: 'USD',
            reason: 'amount mismatch: expected 3499 USD, received 100 USD',
            stray: true,
            requestedAt: now,
          },
        },
      ]);
  });

  it('when a mismatched payment is reported again, then no second refund is requested', () => {
    const history = [placed(), initiated('pi_1')];
    const first = decide(paymentSuccess({ amount: 1, providerReference: 'pi_1' }), fold(history));
    given(...history, ...first)
      .when(paymentSuccess({ amount: 1, providerReference: 'pi_1' }))
      .then([]);
  });

  it("when the right amount arrives from a replaced attempt, then it pays the order: it is this order's money", () => {
    given(placed(), initiated('pi_1'), initiated('pi_2'))
      .when(paymentSuccess({ providerReference: 'pi_1' }))
      .then([succeeded('STRIPE', 'pi_1', now)]);
  });

  it('when a second payment arrives for a paid order, then it is given back and the order keeps its own payment', () => {
    const scenario = given(placed(), initiated('pi_1'), initiated('pi_2'), succeeded('STRIPE', 'pi_1'));
    const events = decide(paymentSuccess({ providerReference: 'pi_2' }), scenario.state);
    expect(events).toStrictEqual([refundRequested('duplicate payment', total, 'STRIPE', now, 'pi_2', true)]);
    const after = events.reduce(evolve, scenario.state);
    expect(after).toMatchObject({
      status: 'PAID',
      paidReference: 'pi_1',
      refundRequested: false,
      strayPayments: [{ reference: 'pi_2', amount: total, currency: 'USD', refunded: false }],
    });
    // The order can still be refunded on its own.
    expect(decide(requestRefund(), after)).toStrictEqual([refundRequested(undefined, total, 'STRIPE', now, 'pi_1', false)]);
  });

  it('when a PAYPAL success is reported for a STRIPE order, then it fails and the order is not paid', () => {
    given(placed('STRIPE'), initiated('pi_1'))
      .when(paymentSuccess({ provider: 'PAYPAL', providerReference: 'pp_1' }))
      .thenThrows(PaymentMethodMismatchError, /paid by STRIPE, not PAYPAL/, 'PAYMENT_METHOD_MISMATCH');
  });

  it('when a PAYPAL failure is reported for a STRIPE order, then it fails and the order is left as it is', () => {
    given(placed('STRIPE'), initiated('pi_1'))
      .when({ type: 'RecordPaymentFailure', data: { provider: 'PAYPAL', providerReference: 'pp_1', reason: 'denied', now } })
      .thenThrows(PaymentMethodMismatchError, /paid by STRIPE, not PAYPAL/, 'PAYMENT_METHOD_MISMATCH');
  });

  it('when a replaced attempt fails late, then the order stays pending on its current attempt', () => {
    given(placed(), initiated('pi_1'), initiated('pi_2')).when(paymentFailure('pi_1')).then([]);
  });

  it('when the current attempt fails, then the order is PAYMENT_FAILED', () => {
    given(placed(), initiated('pi_1'), initiated('pi_2'))
      .when(paymentFailure('pi_2'))
      .then([failed('card_declined', 'pi_2', now)]);
  });

  it('when an attempt that failed later succeeds, then the order is paid', () => {
    given(placed(), initiated('pi_1'), failed('card_declined', 'pi_1'))
      .when(paymentSuccess({ providerReference: 'pi_1' }))
      .then([succeeded('STRIPE', 'pi_1', now)]);
  });

  it('when the right amount arrives after a mismatched one, then the order is paid', () => {
    given(placed(), failed('amount mismatch: expected 3499 USD, received 3498 USD')).when(paymentSuccess()).then([succeededNow]);
  });

  it('when a payment success is delivered twice, then the duplicate changes nothing', () => {
    given(...paidHistory('STRIPE'))
      .when(paymentSuccess({ providerReference: 'pi_1' }))
      .then([]);
  });

  it('when a failure arrives late for an order already paid, then it changes nothing', () => {
    given(...paidHistory('STRIPE'))
      .when(paymentFailure('pi_1'))
      .then([]);
  });

  it('when a payment failure is delivered for a failed order, then another failure is recorded and the order stays retryable', () => {
    const scenario = given(placed(), initiated('pi_1'), failed('card_declined'));
    scenario.when(paymentFailure(null)).then([failed('card_declined', null, now)]);
  });

  it('when money arrives for a cancelled order, then a refund of what arrived is requested, and the order stays cancelled', () => {
    const scenario = given(placed(), initiated('pi_1'), cancelled('PENDING'));
    const events = decide(paymentSuccess({ provider: 'STRIPE', amount: 1200, currency: 'USD' }), scenario.state);
    expect(events).toStrictEqual([
      {
        type: 'RefundRequested',
        data: {
          orderId,
          provider: 'STRIPE',
          providerReference: 'pi_new',
          amount: 1200,
          currency: 'USD',
          reason: 'payment received after cancellation',
          stray: false,
          requestedAt: now,
        },
      },
    ]);
    const after = events.reduce(evolve, scenario.state);
    expect(after).toMatchObject({ status: 'CANCELLED', refundRequested: true, paidAmount: 1200, paidReference: 'pi_new', strayPayments: [] });
  });

  it('when the late payment for a cancelled order is delivered again, then no second refund is requested', () => {
    const history = [placed(), cancelled('PENDING')];
    const first = decide(paymentSuccess(), fold(history));
    expect(first).toHaveLength(1);
    given(...history, ...first)
      .when(paymentSuccess())
      .then([]);
  });
});

describe('decide: cancelling', () => {
  it('when a user cancels an unpaid order, then it is cancelled without a refund', () => {
    given(placed(), initiated('pi_1'))
      .when(cancelOrder('user'))
      .then([cancelled('PENDING', undefined, now)]);
  });

  it('when a user cancels a paid order, then it is rejected and says only an admin can', () => {
    given(...paidHistory('STRIPE'))
      .when(cancelOrder('user'))
      .thenRejectsTransition('PAID', 'CANCELLED', /only an admin can cancel a paid order/);
  });

  it("when an admin cancels a paid order, then it is cancelled and the amount paid is refunded through the order's provider", () => {
    const scenario = given(placed('PAYPAL'), initiated('pp_1', 'PAYPAL'), succeeded('PAYPAL', 'pp_1'));
    scenario.when(cancelOrder('admin')).then([cancelled('PAID', undefined, now), refundRequested('order cancelled after payment', total, 'PAYPAL', now, 'pp_1', false)]);
  });

  it('when an admin cancels a paid order whose refund was already requested, then no second refund is requested', () => {
    const history = [...paidHistory('STRIPE'), refundRequested('damaged')];
    const events = decide(cancelOrder('admin'), fold(history));
    expect(events.filter((event) => event.type === 'RefundRequested')).toHaveLength(0);
    expect(events).toStrictEqual([cancelled('PAID', undefined, now)]);
  });
});

describe('decide: refunds', () => {
  it('when a refund is requested for a delivered order, then the amount paid is requested back', () => {
    given(...histories('STRIPE').DELIVERED)
      .when(requestRefund())
      .then([{ type: 'RefundRequested', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: total, currency: 'USD', stray: false, requestedAt: now } }]);
  });

  it('when a refund is requested twice, then the second changes nothing', () => {
    given(...paidHistory('STRIPE'), refundRequested(undefined))
      .when(requestRefund('again'))
      .then([]);
  });

  it('when a refund is requested for an unpaid order, then it is rejected because nothing was paid', () => {
    given(placed())
      .when(requestRefund())
      .thenRejectsTransition('PENDING', 'REFUNDED', /nothing was paid/);
  });

  it('when the provider reports a refund, then the order is refunded with the reported amount', () => {
    const scenario = given(...paidHistory('STRIPE'), refundRequested('damaged'));
    const events = decide({ type: 'RecordRefund', data: { provider: 'STRIPE', amount: total, currency: 'USD', now } }, scenario.state);
    expect(events).toStrictEqual([{ type: 'OrderRefunded', data: { orderId, provider: 'STRIPE', amount: total, currency: 'USD', refundedAt: now } }]);
    expect(events.reduce(evolve, scenario.state).status).toBe('REFUNDED');
  });

  const reportRefund = (overrides: Partial<Extract<OrderCommand, { type: 'RecordRefund' }>['data']> = {}): OrderCommand => ({
    type: 'RecordRefund',
    data: { provider: 'STRIPE', providerReference: 're_1', paymentReference: 'pi_1', amount: total, currency: 'USD', now, ...overrides },
  });

  it('when the provider reports less than was paid, then the partial refund is recorded and the order is not refunded', () => {
    given(...paidHistory('STRIPE'), refundRequested('damaged'))
      .when(reportRefund({ amount: total - 1 }))
      .then([
        {
          type: 'RefundSucceeded',
          data: { orderId, provider: 'STRIPE', providerRefundId: 're_1', amount: total - 1, currency: 'USD', refundedAmount: total - 1, refundedAt: now },
        },
      ]);
  });

  it('when the provider reports a refund in another currency, then it is refused', () => {
    given(...paidHistory('STRIPE'))
      .when(reportRefund({ currency: 'EUR' }))
      .thenThrows(PartialRefundError, /EUR/, 'REFUND_PARTIAL');
  });

  it("when the reported refund is of the order's own payment, then the order is REFUNDED", () => {
    given(...paidHistory('STRIPE'), refundRequested('damaged', total, 'STRIPE', before, 'pi_1'))
      .when(reportRefund())
      .then([{ type: 'OrderRefunded', data: { orderId, provider: 'STRIPE', providerReference: 're_1', amount: total, currency: 'USD', refundedAt: now } }]);
  });

  it('when the refund of a payment the order never knew of completes, then nothing is recorded', () => {
    given(placed(), initiated('pi_1'), succeeded('STRIPE', 'pi_1'))
      .when(reportRefund({ paymentReference: 'pi_9' }))
      .then([]);
  });

  it('when a PAYPAL refund is reported for a STRIPE order, then it fails', () => {
    given(...paidHistory('STRIPE'))
      .when(reportRefund({ provider: 'PAYPAL' }))
      .thenThrows(PaymentMethodMismatchError, /paid by STRIPE, not PAYPAL/, 'PAYMENT_METHOD_MISMATCH');
  });

  it('when a refund is reported twice, then the duplicate changes nothing', () => {
    given(...paidHistory('STRIPE'), refundRequested('damaged'), refunded())
      .when(recordRefund)
      .then([]);
  });

  it('when a cancelled order that was paid late is refunded, then it ends REFUNDED', () => {
    const history = [placed(), cancelled('PENDING'), refundRequested('payment received after cancellation')];
    given(...history)
      .when(recordRefund)
      .then([refundedNow]);
    expect(fold([...history, refundedNow]).status).toBe('REFUNDED');
  });
});

describe('decide: refunds of stray payments (money the order never counted)', () => {
  const paidTwice = [placed(), initiated('pi_1'), initiated('pi_2'), succeeded('STRIPE', 'pi_1'), refundRequested('duplicate payment', total, 'STRIPE', before, 'pi_2', true)];
  const mismatch = 'amount mismatch: expected 3499 USD, received 1 USD';
  const paidWrongAmount = [placed(), initiated('pi_1'), failed(mismatch, 'pi_1'), refundRequested(mismatch, 1, 'STRIPE', before, 'pi_1', true)];
  const reportRefund = (overrides: Partial<Extract<OrderCommand, { type: 'RecordRefund' }>['data']> = {}): OrderCommand => ({
    type: 'RecordRefund',
    data: { provider: 'STRIPE', providerReference: 're_2', paymentReference: 'pi_2', amount: total, currency: 'USD', now, ...overrides },
  });

  it('when the refund of a duplicate payment completes, then it is recorded as given back and the order keeps its own payment', () => {
    const scenario = given(...paidTwice);
    scenario.when(reportRefund()).then([strayRefunded('pi_2')]);
    const after = fold([...paidTwice, strayRefunded('pi_2')]);
    expect(after).toMatchObject({
      status: 'PAID',
      paidReference: 'pi_1',
      refundRequested: false,
      strayPayments: [{ reference: 'pi_2', amount: total, currency: 'USD', refunded: true }],
    });
    // The order's own payment can still be refunded, and only that refund makes it REFUNDED.
    expect(decide(requestRefund(), after)).toStrictEqual([refundRequested(undefined, total, 'STRIPE', now, 'pi_1', false)]);
  });

  it('when the refund of a mismatched payment completes on an unpaid order, then it is recorded and the order stays retryable', () => {
    given(...paidWrongAmount)
      .when(reportRefund({ paymentReference: 'pi_1', amount: 1 }))
      .then([strayRefunded('pi_1', 1)]);
    const after = fold([...paidWrongAmount, strayRefunded('pi_1', 1)]);
    expect(after).toMatchObject({ status: 'PAYMENT_FAILED', refundRequested: false, strayPayments: [{ reference: 'pi_1', refunded: true }] });
    expect(decide(paymentSuccess({ providerReference: 'pi_2' }), after)).toStrictEqual([succeeded('STRIPE', 'pi_2', now)]);
  });

  it('when the completed refund of a stray payment is reported again, then nothing more is recorded', () => {
    given(...paidTwice, strayRefunded('pi_2'))
      .when(reportRefund())
      .then([]);
  });

  it('when the provider gives back less than the stray payment, then the partial refund is refused', () => {
    given(...paidTwice)
      .when(reportRefund({ amount: total - 1 }))
      .thenThrows(PartialRefundError, /3498 USD does not cover the 3499 USD paid/, 'REFUND_PARTIAL');
  });

  it('when a stray refund was requested before requests said so (v2), then its completion is still recognised', () => {
    const legacy = [placed(), initiated('pi_1'), initiated('pi_2'), succeeded('STRIPE', 'pi_1'), refundRequested('duplicate payment', total, 'STRIPE', before, 'pi_2')];
    given(...legacy)
      .when(reportRefund())
      .then([strayRefunded('pi_2')]);
  });

  it("when a second payment arrives for an order paid without a reference, then it is given back as stray money, never as the order's refund", () => {
    const paidWithoutReference = [placed(), succeeded('STRIPE', null)];
    const events = decide(paymentSuccess({ providerReference: 'pi_2' }), fold(paidWithoutReference));
    expect(events).toStrictEqual([refundRequested('duplicate payment', total, 'STRIPE', now, 'pi_2', true)]);
    const after = fold([...paidWithoutReference, ...events]);
    expect(after).toMatchObject({ status: 'PAID', refundRequested: false, strayPayments: [{ reference: 'pi_2', refunded: false }] });
    given(...paidWithoutReference, ...events)
      .when(reportRefund())
      .then([strayRefunded('pi_2')]);
  });
});

describe('decide: the whole life of an order', () => {
  it('when an order goes from placed to delivered, then each step is legal and the state follows', () => {
    const steps: [OrderCommand, OrderState['status']][] = [
      [placeOrder(), 'PENDING'],
      [initiatePayment('pi_1'), 'PENDING'],
      [paymentFailure('pi_1'), 'PAYMENT_FAILED'],
      [initiatePayment('pi_2'), 'PENDING'],
      [paymentSuccess({ providerReference: 'pi_2' }), 'PAID'],
      [changeStatus('PROCESSING'), 'PROCESSING'],
      [changeStatus('SHIPPED'), 'SHIPPED'],
      [changeStatus('DELIVERED'), 'DELIVERED'],
      [requestRefund('broken'), 'DELIVERED'],
      [recordRefund, 'REFUNDED'],
    ];
    let state = initialOrderState;
    for (const [command, status] of steps) {
      const events = decide(command, state);
      expect(events).toHaveLength(1);
      state = events.reduce(evolve, state);
      expect(state.status).toBe(status);
    }
    expect(state).toMatchObject({ paymentReference: 'pi_2', paidAmount: total, refundRequested: true });
  });
});

describe('evolve', () => {
  it('when OrderPlaced is folded, then the order is PENDING with its terms and nothing paid', () => {
    expect(fold([placed('PAYPAL')])).toStrictEqual({
      status: 'PENDING',
      orderId,
      userId,
      totalAmount: total,
      currency: 'USD',
      paymentMethod: 'PAYPAL',
      placedAt,
      paymentReference: undefined,
      paidReference: undefined,
      paidAmount: 0,
      refundRequested: false,
      strayPayments: [],
      items,
      refundedAmount: 0,
      refunds: [],
      deliveredAt: undefined,
      returns: [],
      personalDataErased: false,
    });
  });

  it('when a stream does not start with OrderPlaced, then its events are ignored', () => {
    expect(fold([succeeded(), statusChanged('PAID', 'PROCESSING'), refunded()])).toStrictEqual(initialOrderState);
  });

  it('when a payment is initiated, then its reference is remembered', () => {
    expect(fold([placed(), initiated('pi_1'), initiated('pi_2')])).toMatchObject({ status: 'PENDING', paymentReference: 'pi_2' });
  });

  it('when a payment succeeds, then the order is PAID with the amount received', () => {
    expect(fold([placed(), succeeded()])).toMatchObject({ status: 'PAID', paidAmount: total, refundRequested: false });
  });

  it('when a refund is requested, then the status is kept and the amount paid is not overwritten', () => {
    const state = fold([...paidHistory('STRIPE'), refundRequested('partial', 100)]);
    expect(state).toMatchObject({ status: 'PAID', paidAmount: total, refundRequested: true });
  });

  it('when an event is folded, then the previous state is left untouched', () => {
    const pending = fold([placed()]);
    const copy = structuredClone(pending);
    evolve(pending, succeeded());
    evolve(pending, cancelled('PENDING'));
    expect(pending).toStrictEqual(copy);
  });
});

describe('statusAfter', () => {
  const cases: { before: OrderStatus | undefined; event: OrderEvent; after: OrderStatus }[] = [
    { before: undefined, event: placed(), after: 'PENDING' },
    { before: 'PAYMENT_FAILED', event: initiated('pi_2'), after: 'PENDING' },
    { before: 'PENDING', event: succeeded(), after: 'PAID' },
    { before: 'PENDING', event: failed('card_declined'), after: 'PAYMENT_FAILED' },
    { before: 'PAID', event: statusChanged('PAID', 'PROCESSING'), after: 'PROCESSING' },
    { before: 'SHIPPED', event: statusChanged('SHIPPED', 'DELIVERED'), after: 'DELIVERED' },
    { before: 'PAID', event: cancelled('PAID'), after: 'CANCELLED' },
    { before: 'DELIVERED', event: refundRequested('damaged'), after: 'DELIVERED' },
    { before: 'CANCELLED', event: refundRequested('late'), after: 'CANCELLED' },
    { before: undefined, event: refundRequested('late'), after: 'PENDING' },
    { before: 'DELIVERED', event: refunded(), after: 'REFUNDED' },
    { before: 'PAYMENT_FAILED', event: strayRefunded('pi_1'), after: 'PAYMENT_FAILED' },
    { before: 'PAID', event: strayRefunded('pi_2'), after: 'PAID' },
  ];

  it.each(cases)('when the order was $before and $event.type happens, then it is $after', ({ before: status, event, after }) => {
    expect(statusAfter(status, event)).toBe(after);
  });

  it.each(stateNames.filter((name) => name !== 'NONE'))('when the "%s" history is replayed through statusAfter, then every step agrees with evolve', (name) => {
    let state = initialOrderState;
    let status: OrderStatus | undefined;
    for (const event of histories('STRIPE')[name]) {
      state = evolve(state, event);
      status = statusAfter(status, event);
      expect(status).toBe(state.status);
    }
  });
});

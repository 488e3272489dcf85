import { decide, evolve, initialOrderState, type OrderCommand } from '../../src/commands/order/orderDecider';
import { InvalidOrderError, InvalidTransitionError, RefundExceedsPaymentError, RefundNotRetryableError } from '../../src/commands/order/orderErrors';
import type { OrderEvent, OrderItem } from '../../src/events/orderEvents';

const orderId = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const userId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const mug = '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13';
const tea = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const items: OrderItem[] = [
  { productId: mug, sku: 'MUG-01', name: 'Mug', quantity: 2, unitAmount: 1250, lineAmount: 2500 },
  { productId: tea, sku: 'TEA-07', name: 'Tea', quantity: 1, unitAmount: 999, lineAmount: 999 },
];
const total = 3499;
const at = '2026-03-01T09:00:00.000Z';
const now = '2026-03-02T12:00:00.000Z';
const refundA = 'a3e1c2d4-5b6f-4a7e-8c9d-0e1f2a3b4c5d';
const refundB = 'b4f2d3e5-6c7a-4b8f-9d0e-1f2a3b4c5d6e';

const paid: OrderEvent[] = [
  { type: 'OrderPlaced', data: { orderId, userId, items, totalAmount: total, currency: 'USD', paymentMethod: 'STRIPE', placedAt: at } },
  { type: 'PaymentInitiated', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: total, currency: 'USD', initiatedAt: at } },
  { type: 'PaymentSucceeded', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: total, currency: 'USD', succeededAt: at } },
];

const requested = (refundId: string, amount: number, lines?: { productId: string; quantity: number; amount: number }[]): OrderEvent => ({
  type: 'PartialRefundRequested',
  data: { orderId, refundId, provider: 'STRIPE', providerReference: 'pi_1', amount, currency: 'USD', ...(lines ? { lines } : {}), reason: 'chipped', requestedAt: now },
});
const succeeded = (refundId: string | undefined, amount: number, refundedAmount: number, providerRefundId?: string): OrderEvent => ({
  type: 'RefundSucceeded',
  data: {
    orderId,
    ...(refundId ? { refundId } : {}),
    provider: 'STRIPE',
    ...(providerRefundId ? { providerRefundId } : {}),
    amount,
    currency: 'USD',
    refundedAmount,
    refundedAt: now,
  },
});
const failedEvent = (refundId: string, attempt = 1): OrderEvent => ({
  type: 'RefundFailed',
  data: { orderId, refundId, attempt, provider: 'STRIPE', reason: 'expired_or_canceled_card', failedAt: now },
});
const fullyRefunded = (amount = total): OrderEvent => ({ type: 'OrderRefunded', data: { orderId, provider: 'STRIPE', amount, currency: 'USD', refundedAt: now } });

const request = (data: Partial<Extract<OrderCommand, { type: 'RequestPartialRefund' }>['data']>): OrderCommand => ({
  type: 'RequestPartialRefund',
  data: { refundId: refundA, reason: 'chipped', now, ...data },
});
const providerTotal = (amount: number, providerReference = 're_x'): OrderCommand => ({
  type: 'RecordRefund',
  data: { provider: 'STRIPE', providerReference, paymentReference: 'pi_1', amount, currency: 'USD', now },
});
const confirmed = (refundId: string, amount: number): OrderCommand => ({
  type: 'RecordPartialRefund',
  data: { refundId, provider: 'STRIPE', providerRefundId: 're_1', amount, currency: 'USD', now },
});

function given(...events: OrderEvent[]) {
  const state = events.reduce(evolve, initialOrderState);
  return {
    state,
    when: (command: OrderCommand) => ({
      then: (expected: OrderEvent[]) => expect(decide(command, state)).toStrictEqual(expected),
      thenThrows: (errorClass: new (...args: never[]) => Error, message: RegExp) => {
        expect(() => decide(command, state)).toThrow(errorClass);
        expect(() => decide(command, state)).toThrow(message);
      },
    }),
  };
}

describe('partial refunds: requesting', () => {
  it('when an admin asks for an amount of a paid order, then a refund of that amount is requested against the payment', () => {
    given(...paid)
      .when(request({ amount: 500 }))
      .then([requested(refundA, 500)]);
  });

  it('when an admin asks for lines, then they are priced from the order', () => {
    given(...paid)
      .when(
        request({
          lines: [
            { productId: mug, quantity: 1 },
            { productId: tea, quantity: 1 },
          ],
        }),
      )
      .then([
        requested(refundA, 2249, [
          { productId: mug, quantity: 1, amount: 1250 },
          { productId: tea, quantity: 1, amount: 999 },
        ]),
      ]);
  });

  it('when both or neither of amount and lines are given, then the request is invalid', () => {
    given(...paid)
      .when(request({ amount: 1, lines: [{ productId: mug, quantity: 1 }] }))
      .thenThrows(InvalidOrderError, /amount or lines/);
    given(...paid)
      .when(request({}))
      .thenThrows(InvalidOrderError, /amount or lines/);
  });

  it('when lines exceed what was ordered less what other refunds give back, then the request is invalid', () => {
    const earlier = requested(refundB, 1250, [{ productId: mug, quantity: 1, amount: 1250 }]);
    given(...paid, earlier)
      .when(request({ lines: [{ productId: mug, quantity: 2 }] }))
      .thenThrows(InvalidOrderError, /Only 1 of MUG-01/);
    given(...paid)
      .when(request({ lines: [{ productId: '11111111-2222-4333-8444-555555555555', quantity: 1 }] }))
      .thenThrows(InvalidOrderError, /not in order/);
  });

  it('when the refunds would add up to more than was paid, then the request is refused naming what is left', () => {
    given(...paid, requested(refundB, 3000))
      .when(request({ amount: 500 }))
      .thenThrows(RefundExceedsPaymentError, /4\.99 USD still refundable/);
  });

  it('when a refused refund no longer counts, then its amount is available again', () => {
    given(...paid, requested(refundB, 3000), failedEvent(refundB))
      .when(request({ amount: 3499 }))
      .then([requested(refundA, 3499)]);
  });

  it('when nothing was paid, or a full refund is on its way, then the request is refused', () => {
    given(paid[0]!)
      .when(request({ amount: 100 }))
      .thenThrows(InvalidTransitionError, /nothing was paid/);
    const full: OrderEvent = {
      type: 'RefundRequested',
      data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: total, currency: 'USD', stray: false, requestedAt: now },
    };
    given(...paid, full)
      .when(request({ amount: 100 }))
      .thenThrows(InvalidTransitionError, /full refund is already on its way/);
  });

  it('when the same refund id is requested again, then nothing is appended', () => {
    given(...paid, requested(refundA, 500))
      .when(request({ amount: 500 }))
      .then([]);
  });
});

describe('partial refunds and the full refund', () => {
  it('when an admin cancels a paid order after a partial refund, then only the rest is requested back', () => {
    given(...paid, requested(refundA, 500), succeeded(refundA, 500, 500))
      .when({ type: 'CancelOrder', data: { by: 'admin', now } })
      .then([
        { type: 'OrderCancelled', data: { orderId, from: 'PAID', cancelledAt: now } },
        {
          type: 'RefundRequested',
          data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 2999, currency: 'USD', reason: 'order cancelled after payment', stray: false, requestedAt: now },
        },
      ]);
  });

  it('when the provider then confirms the rest, then the order is REFUNDED with everything back', () => {
    const cancelledEvents: OrderEvent[] = [
      { type: 'OrderCancelled', data: { orderId, from: 'PAID', cancelledAt: now } },
      { type: 'RefundRequested', data: { orderId, provider: 'STRIPE', providerReference: 'pi_1', amount: 2999, currency: 'USD', stray: false, requestedAt: now } },
    ];
    given(...paid, requested(refundA, 500), succeeded(refundA, 500, 500), ...cancelledEvents)
      .when(providerTotal(total))
      .then([succeeded(undefined, 2999, total, 're_x'), fullyRefunded(total)]);
  });
});

describe('partial refunds: outcomes', () => {
  it('when the provider confirms a refund, then it succeeds and the order counts the money given back', () => {
    const scenario = given(...paid, requested(refundA, 500));
    scenario.when(confirmed(refundA, 500)).then([succeeded(refundA, 500, 500, 're_1')]);
    const after = [succeeded(refundA, 500, 500, 're_1')].reduce(evolve, scenario.state);
    expect(after).toMatchObject({ status: 'PAID', refundedAmount: 500, refunds: [{ refundId: refundA, status: 'succeeded' }] });
  });

  it('when a confirmation is repeated, then nothing is appended', () => {
    given(...paid, requested(refundA, 500), succeeded(refundA, 500, 500))
      .when(confirmed(refundA, 500))
      .then([]);
  });

  it('when the refunds reach what was paid, then the order is REFUNDED', () => {
    const events = [...paid, requested(refundA, 3000), succeeded(refundA, 3000, 3000), requested(refundB, 499)];
    given(...events)
      .when(confirmed(refundB, 499))
      .then([succeeded(refundB, 499, 3499, 're_1'), fullyRefunded(3499)]);
  });

  it('when the provider refuses the attempt in flight, then the refund fails; an older attempt refusing after a retry changes nothing', () => {
    const fail = (attempt: number): OrderCommand => ({
      type: 'RecordRefundFailure',
      data: { refundId: refundA, attempt, provider: 'STRIPE', reason: 'expired_or_canceled_card', now },
    });
    given(...paid, requested(refundA, 500))
      .when(fail(1))
      .then([failedEvent(refundA)]);
    const retried: OrderEvent = { type: 'RefundRetryRequested', data: { orderId, refundId: refundA, attempt: 2, amount: 500, currency: 'USD', requestedAt: now } };
    given(...paid, requested(refundA, 500), failedEvent(refundA), retried)
      .when(fail(1))
      .then([]);
    given(...paid, requested(refundA, 500), failedEvent(refundA), retried)
      .when(fail(2))
      .then([failedEvent(refundA, 2)]);
  });

  it('when an admin retries a failed refund, then a new attempt is requested; a refund that did not fail is not retried', () => {
    const retry: OrderCommand = { type: 'RetryRefund', data: { refundId: refundA, now } };
    given(...paid, requested(refundA, 500), failedEvent(refundA))
      .when(retry)
      .then([{ type: 'RefundRetryRequested', data: { orderId, refundId: refundA, attempt: 2, amount: 500, currency: 'USD', requestedAt: now } }]);
    given(...paid, requested(refundA, 500))
      .when(retry)
      .thenThrows(RefundNotRetryableError, /is requested/);
  });
});

describe('partial refunds: provider reports (total refunded so far)', () => {
  it("when the provider reports a partial total with no refund of ours, then it is recorded as the provider's own refund", () => {
    given(...paid)
      .when(providerTotal(700))
      .then([succeeded(undefined, 700, 700, 're_x')]);
  });

  it('when the reported total settles our requested refund, then that refund succeeds (the webhook before the API answer)', () => {
    given(...paid, requested(refundA, 500))
      .when(providerTotal(500))
      .then([succeeded(refundA, 500, 500, 're_x')]);
  });

  it('when the same or an older total arrives again (duplicate, out of order), then nothing is appended', () => {
    const events = [...paid, requested(refundA, 500), requested(refundB, 300), succeeded(refundA, 500, 500), succeeded(refundB, 300, 800)];
    given(...events)
      .when(providerTotal(800))
      .then([]);
    given(...events)
      .when(providerTotal(500))
      .then([]);
  });

  it('when the newer total arrives first, then both refunds succeed at once and the older total is then old news', () => {
    const events = [...paid, requested(refundA, 500), requested(refundB, 300)];
    const scenario = given(...events);
    scenario.when(providerTotal(800)).then([succeeded(refundA, 500, 500, 're_x'), succeeded(refundB, 300, 800, 're_x')]);
    given(...events, succeeded(refundA, 500, 500), succeeded(refundB, 300, 800))
      .when(providerTotal(500))
      .then([]);
  });

  it('when partial refunds and a provider total reach what was paid, then the order is REFUNDED', () => {
    given(...paid, requested(refundA, 500), succeeded(refundA, 500, 500))
      .when(providerTotal(total))
      .then([succeeded(undefined, 2999, total, 're_x'), fullyRefunded(total)]);
  });
});

describe('returns', () => {
  const returnId = 'c5a3e4f6-7d8b-4c9a-8e1f-2a3b4c5d6e7f';
  const deliveredAt = '2026-03-03T10:00:00.000Z';
  const delivered: OrderEvent[] = [
    ...paid,
    { type: 'OrderStatusChanged', data: { orderId, from: 'PAID', to: 'PROCESSING', changedAt: at } },
    { type: 'OrderStatusChanged', data: { orderId, from: 'PROCESSING', to: 'SHIPPED', changedAt: at } },
    { type: 'OrderStatusChanged', data: { orderId, from: 'SHIPPED', to: 'DELIVERED', changedAt: deliveredAt } },
  ];
  const ask = (when: string, lines = [{ productId: mug, quantity: 2 }]): OrderCommand => ({
    type: 'RequestReturn',
    data: { returnId, lines, reason: 'too small', windowDays: 30, now: when },
  });
  const returnRequested: OrderEvent = { type: 'ReturnRequested', data: { orderId, returnId, lines: [{ productId: mug, quantity: 2 }], reason: 'too small', requestedAt: now } };
  const approved: OrderEvent = { type: 'ReturnApproved', data: { orderId, returnId, approvedAt: now } };

  it('when the owner asks within the window, then the return is requested; a day after it closes, it is refused', () => {
    given(...delivered)
      .when(ask('2026-04-02T10:00:00.000Z'))
      .then([{ ...returnRequested, data: { ...returnRequested.data, requestedAt: '2026-04-02T10:00:00.000Z' } }]);
    expect(() => decide(ask('2026-04-02T10:00:00.001Z'), given(...delivered).state)).toThrow(/30-day return window closed at 2026-04-02T10:00:00.000Z/);
  });

  it('when the order is not delivered, or more is asked back than was ordered, then the request is refused', () => {
    expect(() => decide(ask(now), given(...paid).state)).toThrow(/only a delivered order can be returned/);
    given(...delivered, returnRequested)
      .when({ ...ask(now), data: { ...ask(now).data, returnId: refundB } } as OrderCommand)
      .thenThrows(InvalidOrderError, /At most 2 of MUG-01/);
  });

  it('when an approved return is received, then the receipt and a partial refund of its lines are decided together', () => {
    given(...delivered, returnRequested, approved)
      .when({ type: 'ReceiveReturn', data: { returnId, damaged: [mug], refundId: refundA, now } })
      .then([
        { type: 'ReturnReceived', data: { orderId, returnId, lines: [{ productId: mug, quantity: 2, damaged: true }], receivedAt: now } },
        {
          type: 'PartialRefundRequested',
          data: {
            orderId,
            refundId: refundA,
            provider: 'STRIPE',
            providerReference: 'pi_1',
            amount: 2500,
            currency: 'USD',
            lines: [{ productId: mug, quantity: 2, amount: 2500 }],
            reason: `return ${returnId}`,
            returnId,
            requestedAt: now,
          },
        },
      ]);
  });

  it('when a return is received before approval, or approved twice, then the first is refused and the second changes nothing', () => {
    expect(() => decide({ type: 'ReceiveReturn', data: { returnId, damaged: [], refundId: refundA, now } }, given(...delivered, returnRequested).state)).toThrow(
      /is requested; it cannot become received/,
    );
    given(...delivered, returnRequested, approved)
      .when({ type: 'ApproveReturn', data: { returnId, now } })
      .then([]);
  });
});

import { bearer, givenAdmin, givenUser, type TestUser } from '../support/apiHarness';
import { eventTypes, eventually, orderState, placeOrder, sendPayPalWebhook, sendStripeWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

let env: PaymentsApp;
let alice: TestUser;
let admin: TestUser;

beforeAll(async () => {
  env = await startPaymentsApp();
  [alice, admin] = await Promise.all([givenUser(env.app), givenAdmin(env.app)]);
});

afterAll(async () => {
  await env?.stop();
});

/** A STRIPE order of 2 × 25.00 USD, paid. */
async function givenPaidStripeOrder() {
  const placed = await placeOrder(env.app, alice, 'STRIPE', { unitAmount: 2500, quantity: 2 });
  expect(placed.status).toBe(201);
  const intentId = (await orderState(env.app, placed.orderId)).paymentReference!;
  env.stripe.pay(intentId);
  await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));
  const state = await orderState(env.app, placed.orderId);
  expect(state.status).toBe('PAID');
  return { orderId: placed.orderId, intentId, productId: state.items[0]!.productId };
}

/** A PAYPAL order of 34.99 USD, captured. */
async function givenPaidPayPalOrder() {
  const placed = await placeOrder(env.app, alice, 'PAYPAL', { unitAmount: 3499 });
  const paypalOrderId = (await orderState(env.app, placed.orderId)).paymentReference!;
  env.paypal.approve(paypalOrderId);
  expect((await env.app.request.post('/payments/paypal/capture').set(bearer(alice.token)).send({ orderId: placed.orderId })).status).toBe(200);
  const captureId = [...env.paypal.captures.values()].find((c) => c.supplementary_data.related_ids.order_id === paypalOrderId)!.id;
  return { orderId: placed.orderId, captureId };
}

const refund = (orderId: string, body: Record<string, unknown>, ifMatch?: string) => {
  const request = env.app.request.post(`/orders/${orderId}/refunds`).set(bearer(admin.token));
  if (ifMatch !== undefined) request.set('If-Match', ifMatch);
  return request.send(body);
};
const readOrder = async (orderId: string) => (await env.app.request.get(`/orders/${orderId}`).set(bearer(alice.token))).body.data;
const refundsRequested = (intentId: string) => env.stripe.requestsTo('POST', /^\/v1\/refunds$/).filter((r) => r.form.payment_intent === intentId);

describe('partial refunds through Stripe', () => {
  it('when an admin refunds a line and then an amount, then Stripe refunds each with its event id as key, and the order shows PARTIALLY_REFUNDED then REFUNDED', async () => {
    const { orderId, intentId, productId } = await givenPaidStripeOrder();

    const first = await refund(orderId, { lines: [{ productId, quantity: 1 }], reason: 'one mug arrived chipped' });
    expect(first.status).toBe(200);
    expect(first.body.data.refund).toMatchObject({ status: 'succeeded' });
    expect(first.body.data.order).toMatchObject({ status: 'PAID', paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 2500 });
    expect(first.body.data.order.refunds).toEqual([
      expect.objectContaining({ refundId: first.body.data.refund.refundId, amount: 2500, status: 'SUCCEEDED', lines: [{ productId, quantity: 1, amount: 2500 }] }),
    ]);

    const second = await refund(orderId, { amount: 2500, reason: 'goodwill' });
    expect(second.body.data.order).toMatchObject({ status: 'REFUNDED', paymentStatus: 'REFUNDED', refundedAmount: 5000 });

    const stream = await env.app.runtime.deps.store.readStream(`order-${orderId}`);
    const requestIds = stream.filter((e) => e.type === 'PartialRefundRequested').map((e) => e.id);
    // The admin's call and the refund reactor may both send a request: the same key, so Stripe makes one refund.
    expect([...new Set(refundsRequested(intentId).map((c) => c.idempotencyKey))]).toEqual(requestIds);
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId).map((r) => r.amount)).toEqual([2500, 2500]);
    expect(await eventTypes(env.app, orderId)).toEqual([
      'OrderPlaced',
      'PaymentInitiated',
      'PaymentSucceeded',
      'PartialRefundRequested',
      'RefundSucceeded',
      'PartialRefundRequested',
      'RefundSucceeded',
      'OrderRefunded',
    ]);
    // The reactor sees the same requests: the same keys give the same refunds, recorded once.
    await eventually(
      () => eventTypes(env.app, orderId),
      (types) => types.length === 8,
    );
  });

  it('when refunds would exceed what was captured, then 409 names what is left and Stripe is not called', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    expect((await refund(orderId, { amount: 4000, reason: 'late' })).status).toBe(200);
    const res = await refund(orderId, { amount: 1001, reason: 'more' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'REFUND_EXCEEDS_PAYMENT', details: { availableAmount: 1000, requestedAmount: 1001 } });
    // The admin's call and the refund reactor may both send the first refund (same key, one refund at
    // Stripe); the refused one sent nothing of its own.
    expect(new Set(refundsRequested(intentId).map((r) => r.idempotencyKey)).size).toBe(1);
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId).map((r) => r.amount)).toEqual([4000]);
  });

  it('when both amount and lines, or neither, are sent, then 400', async () => {
    const { orderId, productId } = await givenPaidStripeOrder();
    expect((await refund(orderId, { amount: 100, lines: [{ productId, quantity: 1 }], reason: 'x' })).status).toBe(400);
    expect((await refund(orderId, { reason: 'x' })).status).toBe(400);
  });

  it('when If-Match names an older revision, then 412 and nothing is refunded; POST /refund honours If-Match too', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    const res = await refund(orderId, { amount: 100, reason: 'x' }, '"1"');
    expect(res.status).toBe(412);
    const full = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).set('If-Match', '"1"').send({});
    expect(full.status).toBe(412);
    expect(refundsRequested(intentId)).toHaveLength(0);
    // The webhook answers Stripe without waiting for the read models: the read that gives the ETag
    // waits for the stream's last event, or it may still show the order before PaymentSucceeded.
    const last = (await env.app.runtime.deps.store.readStream(`order-${orderId}`)).at(-1)!;
    const current = await env.app.request.get(`/orders/${orderId}`).set(bearer(admin.token)).set('X-Min-Position', last.position.toString());
    expect(current.headers.etag).toBe(`"${last.revision}"`);
    expect((await refund(orderId, { amount: 100, reason: 'x' }, current.headers.etag)).status).toBe(200);
  });

  it('when Stripe refuses a refund, then RefundFailed shows on the order and the timeline, and an admin retry with a new key succeeds', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    env.stripe.refundStatus = 'failed';
    let refundId: string;
    try {
      const res = await refund(orderId, { amount: 1500, reason: 'damaged' });
      expect(res.status).toBe(200);
      expect(res.body.data.refund).toMatchObject({ status: 'failed', failureReason: 'expired_or_canceled_card' });
      refundId = res.body.data.refund.refundId;
      expect(res.body.data.order).toMatchObject({ paymentStatus: 'SUCCEEDED', refundedAmount: 0 });
      expect(res.body.data.order.refunds).toEqual([expect.objectContaining({ refundId, status: 'FAILED', failureReason: 'expired_or_canceled_card' })]);
    } finally {
      env.stripe.refundStatus = 'succeeded';
    }
    const timeline = await env.app.request.get(`/orders/${orderId}/timeline`).set(bearer(admin.token));
    expect(JSON.stringify(timeline.body)).toMatch(/RefundFailed/);

    const retry = await env.app.request.post(`/orders/${orderId}/refunds/${refundId}/retry`).set(bearer(admin.token)).send();
    expect(retry.status).toBe(200);
    expect(retry.body.data.refund).toMatchObject({ refundId, status: 'succeeded' });
    expect(retry.body.data.order).toMatchObject({ paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 1500 });
    const keys = refundsRequested(intentId).map((r) => r.idempotencyKey);
    expect(new Set(keys).size).toBe(2);
    const again = await env.app.request.post(`/orders/${orderId}/refunds/${refundId}/retry`).set(bearer(admin.token)).send();
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('REFUND_NOT_RETRYABLE');
  });

  it("when Stripe answers a refund with an error no retry fixes, then RefundFailed records a plain reason (Stripe's words stay in the log)", async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    env.stripe.dashboardRefund(intentId, 4000); // the ledger has not heard of it yet
    const res = await refund(orderId, { amount: 2000, reason: 'damaged' });
    expect(res.status).toBe(200);
    expect(res.body.data.refund).toMatchObject({ status: 'failed', failureReason: 'Stripe refund failed' });
    expect(res.body.data.order.refunds).toEqual([expect.objectContaining({ status: 'FAILED', failureReason: 'Stripe refund failed' })]);
    expect(JSON.stringify(res.body)).not.toMatch(/greater than unrefunded/);
  });

  it('when Stripe refunds in its dashboard twice and the webhooks arrive out of order and twice, then both are recorded once', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    env.stripe.dashboardRefund(intentId, 700);
    const older = env.stripe.chargeRefundedEvent(intentId);
    env.stripe.dashboardRefund(intentId, 300);
    const newer = env.stripe.chargeRefundedEvent(intentId);

    expect((await sendStripeWebhook(env.app, newer)).body.outcome).toBe('recorded');
    expect((await sendStripeWebhook(env.app, newer)).body.outcome).toBe('unchanged');
    expect((await sendStripeWebhook(env.app, older)).body.outcome).toBe('unchanged');
    const order = await eventually(
      () => readOrder(orderId),
      (o) => o.revision >= 3,
    );
    expect(order).toMatchObject({ status: 'PAID', paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 1000 });
    expect(order.refunds).toEqual([expect.objectContaining({ refundId: null, amount: 1000, status: 'SUCCEEDED' })]);
  });

  it('when Stripe answers a refund as pending, then charge.refunded settles it (and a duplicate changes nothing)', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    env.stripe.refundStatus = 'pending';
    try {
      const res = await refund(orderId, { amount: 1200, reason: 'late' });
      expect(res.body.data.refund.status).toBe('pending');
    } finally {
      env.stripe.refundStatus = 'succeeded';
    }
    // The fake counts a pending refund as given back, as Stripe's charge does.
    const event = env.stripe.chargeRefundedEvent(intentId);
    expect((await sendStripeWebhook(env.app, event)).body.outcome).toBe('recorded');
    expect((await sendStripeWebhook(env.app, event)).body.outcome).toBe('unchanged');
    const state = await orderState(env.app, orderId);
    expect(state).toMatchObject({ refundedAmount: 1200, refunds: [expect.objectContaining({ status: 'succeeded' })] });
  });

  it('when the full refund follows partial refunds, then only the rest goes back', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    await refund(orderId, { amount: 1000, reason: 'first' });
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({ reason: 'the rest' });
    expect(res.status).toBe(200);
    expect(res.body.data.order).toMatchObject({ status: 'REFUNDED', refundedAmount: 5000 });
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId).map((r) => r.amount)).toEqual([1000, 4000]);
  });
});

describe('cancelling after a partial refund', () => {
  it('when an admin cancels a paid order after a partial refund, then Stripe gives back only the rest and the order is REFUNDED', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    await refund(orderId, { amount: 1000, reason: 'first' });
    const cancelled = await env.app.request.post(`/orders/${orderId}/cancel`).set(bearer(admin.token)).send({ reason: 'out of stock' });
    expect(cancelled.status).toBe(200);
    const state = await eventually(
      () => orderState(env.app, orderId),
      (s) => s.status === 'REFUNDED',
    );
    expect(state.refundedAmount).toBe(5000);
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId).map((r) => r.amount)).toEqual([1000, 4000]);
  });
});

describe('a received return refunded through Stripe', () => {
  it('when an admin receives a return, then its lines are refunded through Stripe at once', async () => {
    const { orderId, intentId, productId } = await givenPaidStripeOrder();
    for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) {
      expect((await env.app.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status })).status).toBe(200);
    }
    const requested = await env.app.request
      .post(`/orders/${orderId}/returns`)
      .set(bearer(alice.token))
      .send({ lines: [{ productId, quantity: 1 }], reason: 'too small' });
    const returnId = requested.body.data.returnId as string;
    await env.app.request.post(`/orders/${orderId}/returns/${returnId}/approve`).set(bearer(admin.token)).send();
    const received = await env.app.request.post(`/orders/${orderId}/returns/${returnId}/receive`).set(bearer(admin.token)).send({});
    expect(received.body.data.refund).toMatchObject({ status: 'succeeded' });
    expect(received.body.data.order).toMatchObject({ status: 'DELIVERED', paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 2500 });
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId).map((r) => r.amount)).toEqual([2500]);
  });
});

describe('partial refunds through PayPal', () => {
  it('when an admin refunds part of a capture, then PayPal refunds that amount with the event id as PayPal-Request-Id', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    const res = await refund(orderId, { amount: 999, reason: 'missing tea' });
    expect(res.status).toBe(200);
    expect(res.body.data.order).toMatchObject({ paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 999, status: 'PAID' });
    const calls = env.paypal.requestsTo('POST', new RegExp(`/captures/${captureId}/refund$`));
    expect(JSON.parse(calls[0]!.body).amount).toEqual({ currency_code: 'USD', value: '9.99' });
    const stream = await env.app.runtime.deps.store.readStream(`order-${orderId}`);
    // The admin's call and the refund reactor may both ask: one PayPal-Request-Id, one refund.
    expect([...new Set(calls.map((c) => c.requestId))]).toEqual([stream.find((e) => e.type === 'PartialRefundRequested')!.id]);
    expect([...env.paypal.refunds.values()].filter((r) => r.links.some((l) => l.href.endsWith(`/captures/${captureId}`)))).toHaveLength(1);
    // PayPal's webhook for the same refund is old news.
    const refundId = res.body.data.refund.providerRefundId as string;
    expect((await sendPayPalWebhook(env.app, env.paypal.refundNotification(refundId))).body.outcome).toBe('unchanged');
  });

  it('when PayPal refuses a refund, then RefundFailed is recorded and a retry succeeds', async () => {
    const { orderId } = await givenPaidPayPalOrder();
    // PayPal answers the same PayPal-Request-Id with the same FAILED refund, whoever asks (admin or reactor).
    env.paypal.refundStatus = 'FAILED';
    let res;
    try {
      res = await refund(orderId, { amount: 500, reason: 'x' });
    } finally {
      env.paypal.refundStatus = 'COMPLETED';
    }
    expect(res.body.data.refund.status).toBe('failed');
    expect(res.body.data.order.refunds).toEqual([expect.objectContaining({ status: 'FAILED', failureReason: 'FAILED' })]);
    expect(await eventTypes(env.app, orderId)).toContain('RefundFailed');
    const retry = await env.app.request.post(`/orders/${orderId}/refunds/${res.body.data.refund.refundId}/retry`).set(bearer(admin.token)).send();
    expect(retry.body).toMatchObject({ data: { refund: { status: 'succeeded' }, order: { refundedAmount: 500 } } });
  });

  it('when PayPal notifies partial dashboard refunds out of order, one without the link to its capture, then each is recorded once', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    const first = env.paypal.dashboardRefund(captureId, { currency_code: 'USD', value: '5.00' });
    const second = env.paypal.dashboardRefund(captureId, { currency_code: 'USD', value: '3.00' });

    const late = await sendPayPalWebhook(env.app, env.paypal.refundNotification(second.id, { withoutLinks: true }));
    expect(late.body.outcome).toBe('recorded');
    expect((await sendPayPalWebhook(env.app, env.paypal.refundNotification(first.id))).body.outcome).toBe('unchanged');
    const duplicate = env.paypal.refundNotification(second.id);
    expect((await sendPayPalWebhook(env.app, duplicate)).body.outcome).toBe('unchanged');
    expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAID', refundedAmount: 800 });
  });
});

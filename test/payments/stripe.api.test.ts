import Stripe from 'stripe';
import { bearer, givenAdmin, givenProduct, givenUser, type TestUser } from '../support/apiHarness';
import { eventTypes, eventually, orderState, placeOrder, sendStripeWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

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

/** A placed STRIPE order and the PaymentIntent the fake created for it. */
async function givenStripeOrder(unitAmount = 2500, quantity = 1) {
  const placed = await placeOrder(env.app, alice, 'STRIPE', { unitAmount, quantity });
  expect(placed.status).toBe(201);
  const state = await orderState(env.app, placed.orderId);
  return { orderId: placed.orderId, intentId: state.paymentReference!, placed };
}

const statusOf = async (orderId: string) => (await orderState(env.app, orderId)).status;

describe('POST /orders with STRIPE', () => {
  it('when a STRIPE order is placed, then a PaymentIntent for the catalog total is created and its client secret returned', async () => {
    const placed = await placeOrder(env.app, alice, 'STRIPE', { unitAmount: 1999, quantity: 3 });

    expect(placed.status).toBe(201);
    const state = await orderState(env.app, placed.orderId);
    const intent = env.stripe.intents.get(state.paymentReference!);
    expect(intent).toMatchObject({ amount: 5997, currency: 'usd', metadata: { orderId: placed.orderId } });
    expect(placed.body.data?.clientSecret).toBe(intent!.client_secret);
    expect(placed.body.data?.order).toMatchObject({ id: placed.orderId, status: 'PENDING', totalAmount: 5997 });
    const create = env.stripe.requestsTo('POST', /^\/v1\/payment_intents$/).find((r) => r.form['metadata[orderId]'] === placed.orderId);
    expect(create?.idempotencyKey).toContain(placed.orderId);
    expect(await eventTypes(env.app, placed.orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when the total is below what Stripe can charge, then 400 names the minimum, nothing is stored or sent to Stripe, and the key stays usable', async () => {
    const free = await givenProduct(env.app, { unitAmount: 0, currency: 'USD' });
    const intentsBefore = env.stripe.intents.size;
    const key = `below-minimum-${free.id}`;
    const res = await env.app.request
      .post('/orders')
      .set(bearer(alice.token))
      .set('Idempotency-Key', key)
      .send({ items: [{ productId: free.id, quantity: 3 }], paymentMethod: 'STRIPE' });

    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'ORDER_AMOUNT_BELOW_MINIMUM',
      message: 'An order paid by STRIPE must total at least 0.50 USD; this one totals 0.00 USD',
      details: { paymentMethod: 'STRIPE', currency: 'USD', minimumAmount: 50, totalAmount: 0 },
    });
    expect(env.stripe.intents.size).toBe(intentsBefore);
    const paypal = await env.app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ productId: free.id, quantity: 1 }], paymentMethod: 'PAYPAL' });
    expect(paypal.body.error).toMatchObject({ code: 'ORDER_AMOUNT_BELOW_MINIMUM', details: { minimumAmount: 1 } });
    // Offline payment of a free order is fine, with the same key.
    const manual = await env.app.request
      .post('/orders')
      .set(bearer(alice.token))
      .set('Idempotency-Key', key)
      .send({ items: [{ productId: free.id, quantity: 3 }], paymentMethod: 'MANUAL' });
    expect(manual.status).toBe(201);
    expect(manual.body.data.order).toMatchObject({ totalAmount: 0, paymentMethod: 'MANUAL' });
  });

  it('when the order is read back, then the read model shows the intent as its payment reference', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    const res = await env.app.request.get(`/orders/${orderId}`).set(bearer(alice.token));
    expect(res.body.data).toMatchObject({ paymentStatus: 'INITIATED', paymentProvider: 'STRIPE', paymentReference: intentId });
  });
});

describe('POST /payments/webhook/stripe', () => {
  it('when payment_intent.succeeded arrives signed, then the order is PAID', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    const res = await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, outcome: 'recorded' });
    expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAID', paidAmount: 2500, paidReference: intentId });
  });

  it('when the same event is delivered twice, then one transition is recorded', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    const event = env.stripe.intentEvent('payment_intent.succeeded', intentId);
    const first = await sendStripeWebhook(env.app, event);
    const second = await sendStripeWebhook(env.app, event);

    expect([first.body.outcome, second.body.outcome]).toEqual(['recorded', 'unchanged']);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentSucceeded']);
  });

  it('when the same event is delivered ten times concurrently, then one PaymentSucceeded is stored', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    const event = env.stripe.intentEvent('payment_intent.succeeded', intentId);
    const answers = await Promise.all(Array.from({ length: 10 }, () => sendStripeWebhook(env.app, event)));

    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentSucceeded']);
  });

  it('when the signature is missing, wrong, made with another secret, too old or over another body, then 400 and nothing is recorded', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    const good = env.stripe.intentEvent('payment_intent.succeeded', intentId);
    const otherSecret = env.stripe.signedEvent('payment_intent.succeeded', env.stripe.intents.get(intentId), { secret: 'whsec_not_ours' });
    const stale = env.stripe.signedEvent('payment_intent.succeeded', env.stripe.intents.get(intentId), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    const tampered = { payload: good.payload.replace('"amount_received": 2500', '"amount_received": 1'), header: good.header };
    expect(tampered.payload).not.toBe(good.payload);

    const answers = await Promise.all([
      sendStripeWebhook(env.app, { payload: good.payload }),
      sendStripeWebhook(env.app, { payload: good.payload, header: 't=1,v1=deadbeef' }),
      sendStripeWebhook(env.app, otherSecret),
      sendStripeWebhook(env.app, stale),
      sendStripeWebhook(env.app, tampered),
    ]);

    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400, 400]);
    expect(answers.map((a) => a.body.error.code)).toEqual([
      'WEBHOOK_SIGNATURE_MISSING',
      'WEBHOOK_SIGNATURE_INVALID',
      'WEBHOOK_SIGNATURE_INVALID',
      'WEBHOOK_SIGNATURE_INVALID',
      'WEBHOOK_SIGNATURE_INVALID',
    ]);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when an event type is not handled, then 200 and it is ignored', async () => {
    const res = await sendStripeWebhook(env.app, env.stripe.signedEvent('customer.created', { id: 'cus_1', object: 'customer' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, outcome: 'ignored' });
  });

  it.each([
    ['payment_intent.succeeded without currency', 'payment_intent.succeeded', (intent: Record<string, unknown>) => ({ ...intent, currency: undefined }), /currency/],
    [
      'payment_intent.succeeded with a fractional amount',
      'payment_intent.succeeded',
      (intent: Record<string, unknown>) => ({ ...intent, amount_received: 12.5 }),
      /amount_received/,
    ],
    [
      'payment_intent.payment_failed with metadata that is no object',
      'payment_intent.payment_failed',
      (intent: Record<string, unknown>) => ({ ...intent, metadata: 'x' }),
      /metadata/,
    ],
  ])('when a signed %s arrives, then 200 ignored with the reason and the order is unchanged (Stripe stops redelivering)', async (_label, type, mangle, reason) => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    const intent = { ...env.stripe.intents.get(intentId)! } as unknown as Record<string, unknown>;
    const res = await sendStripeWebhook(env.app, env.stripe.signedEvent(type, mangle(intent)));

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, outcome: 'ignored' });
    expect(res.body.reason).toMatch(reason);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when a signed charge.refunded without currency arrives, then 200 ignored and the order stays PAID', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.pay(intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));
    const refunded = JSON.parse(env.stripe.chargeRefundedEvent(intentId, { amountRefunded: 2500 }).payload) as { data: { object: Record<string, unknown> } };
    const res = await sendStripeWebhook(env.app, env.stripe.signedEvent('charge.refunded', { ...refunded.data.object, currency: undefined }));

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/the charge is malformed.*currency/) });
    expect(await statusOf(orderId)).toBe('PAID');
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['not JSON at all', '{"id": "evt_1", '],
    ['an event without a type', JSON.stringify({ id: 'evt_1', data: { object: {} } })],
  ])('when a signed body is %s, then 200 ignored rather than a crash', async (_label, payload) => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret: env.stripe.webhookSecret });
    const res = await sendStripeWebhook(env.app, { payload, header });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, outcome: 'ignored', reason: expect.stringMatching(/malformed|not JSON/) });
  });

  it('when an event names no order of ours, then 200 and it is ignored', async () => {
    const res = await sendStripeWebhook(
      env.app,
      env.stripe.signedEvent('payment_intent.succeeded', { id: 'pi_other', object: 'payment_intent', amount_received: 100, currency: 'usd', metadata: {} }),
    );
    expect(res.body).toMatchObject({ outcome: 'ignored' });
  });

  it('when the amount received differs from the order total, then the payment is failed, the money given back, and the order never PAID', async () => {
    const { orderId, intentId } = await givenStripeOrder(2500);
    env.stripe.pay(intentId, 2400);
    const res = await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));

    expect(res.body).toMatchObject({ outcome: 'recorded' });
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentFailed', 'RefundRequested']);
    // The refund reactor gives back exactly what was received, keyed by the RefundRequested event id.
    const refund = await eventually(
      async () => [...env.stripe.refunds.values()].find((r) => r.payment_intent === intentId),
      (r) => r !== undefined,
    );
    expect(refund).toMatchObject({ amount: 2400, currency: 'usd', status: 'succeeded' });
    const stream = await env.app.runtime.deps.store.readStream(`order-${orderId}`);
    const refundRequest = stream.find((e) => e.type === 'RefundRequested')!;
    expect(env.stripe.requestsTo('POST', /^\/v1\/refunds$/).find((r) => r.form.payment_intent === intentId)?.idempotencyKey).toBe(refundRequest.id);
    const state = await orderState(env.app, orderId);
    expect(state).toMatchObject({ status: 'PAYMENT_FAILED', strayPayments: [{ reference: intentId, amount: 2400, currency: 'USD' }], refundRequested: false });

    // The client pays again: a new attempt, and the order can still be paid.
    const retry = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
    expect(retry.status).toBe(200);
    const retried = await orderState(env.app, orderId);
    expect(retried.paymentReference).not.toBe(intentId);
    env.stripe.pay(retried.paymentReference!);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', retried.paymentReference!));
    expect(await statusOf(orderId)).toBe('PAID');
  });

  it('when the currency differs from the order, then it is never PAID', async () => {
    const { orderId, intentId } = await givenStripeOrder(2500);
    env.stripe.pay(intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId, { currency: 'eur' }));
    expect(await statusOf(orderId)).toBe('PAYMENT_FAILED');
  });

  it('when payment_failed arrives, then the order is PAYMENT_FAILED and payment can be retried', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.decline(intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.payment_failed', intentId));
    expect(await statusOf(orderId)).toBe('PAYMENT_FAILED');

    const retry = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
    expect(retry.status).toBe(200);
    expect(retry.body.data.clientSecret).toMatch(/_secret_/);
    expect(await statusOf(orderId)).toBe('PENDING');
  });

  it('when payment_intent.canceled arrives, then the order is PAYMENT_FAILED', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    env.stripe.cancel(intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.canceled', intentId));
    expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAYMENT_FAILED' });
  });

  describe('out of order', () => {
    it('when a failure arrives after the success, then the order stays PAID', async () => {
      const { orderId, intentId } = await givenStripeOrder();
      env.stripe.pay(intentId);
      const succeeded = env.stripe.intentEvent('payment_intent.succeeded', intentId);
      const failed = env.stripe.intentEvent('payment_intent.payment_failed', intentId, { status: 'requires_payment_method' });
      await sendStripeWebhook(env.app, succeeded);
      await sendStripeWebhook(env.app, failed);
      expect(await statusOf(orderId)).toBe('PAID');
    });

    it('when the failure of a replaced attempt arrives late, then the order keeps waiting on its current attempt', async () => {
      const { orderId, intentId } = await givenStripeOrder();
      env.stripe.decline(intentId);
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.payment_failed', intentId));
      await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
      const current = (await orderState(env.app, orderId)).paymentReference!;
      // The first attempt's failure is delivered again, late.
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.payment_failed', intentId));
      expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PENDING', paymentReference: current });
    });

    it('when the success arrives after the order was cancelled, then the money is refunded and the order ends REFUNDED', async () => {
      const { orderId, intentId } = await givenStripeOrder();
      const cancel = await env.app.request.post(`/orders/${orderId}/cancel`).set(bearer(alice.token)).send({});
      expect(cancel.status).toBe(200);
      env.stripe.pay(intentId);
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));

      expect(await statusOf(orderId)).toBe('CANCELLED');
      await eventually(
        () => statusOf(orderId),
        (s) => s === 'REFUNDED',
      );
      expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId)).toHaveLength(1);
      // Stripe's charge.refunded confirms it again: nothing changes.
      const confirm = await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(intentId));
      expect(confirm.body.outcome).toBe('unchanged');
    });

    it('when a second attempt also succeeds after the order was paid, then the second payment is given back and the order stays PAID', async () => {
      const { orderId, intentId } = await givenStripeOrder();
      env.stripe.decline(intentId);
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.payment_failed', intentId));
      await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
      const second = (await orderState(env.app, orderId)).paymentReference!;
      env.stripe.pay(intentId);
      env.stripe.pay(second);
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', second));

      const refund = await eventually(
        async () => [...env.stripe.refunds.values()].find((r) => r.payment_intent === second),
        (r) => r !== undefined,
      );
      expect(refund?.amount).toBe(2500);
      // charge.refunded for the duplicate does not refund the order.
      await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(second));
      expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAID', paidReference: intentId, strayPayments: [expect.objectContaining({ reference: second })] });
    });
  });
});

describe('provider failures when placing a STRIPE order', () => {
  it('when Stripe answers 500, then 502 names the failure, the order exists as PAYMENT_FAILED, and POST /orders/:id/pay retries', async () => {
    env.stripe.failNext({ method: 'POST', path: /^\/v1\/payment_intents$/ }, { status: 500, body: { error: { type: 'api_error', message: 'Something went wrong' } } }, 2);
    const placed = await placeOrder(env.app, alice, 'STRIPE');

    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR' });
    expect(placed.body.error!.message).toMatch(/Stripe PaymentIntent creation failed/);
    expect(placed.body.error!.message).toMatch(/POST \/orders\/.+\/pay/);
    expect(placed.body.error!.details).toMatchObject({ orderId: placed.orderId, orderStatus: 'PAYMENT_FAILED' });
    expect(await statusOf(placed.orderId)).toBe('PAYMENT_FAILED');
    const listed = await env.app.request.get(`/orders/${placed.orderId}`).set(bearer(alice.token));
    expect(listed.status).toBe(200);

    const retry = await env.app.request.post(`/orders/${placed.orderId}/pay`).set(bearer(alice.token));
    expect(retry.status).toBe(200);
    expect(retry.body.data.clientSecret).toMatch(/_secret_/);
    expect(retry.body.data.order.status).toBe('PENDING');
  });

  it('when Stripe does not answer in time, then 502 PAYMENT_PROVIDER_TIMEOUT and the order is retryable', async () => {
    env.stripe.failNext({ method: 'POST', path: /^\/v1\/payment_intents$/ }, 'hang', 2);
    const started = Date.now();
    const placed = await placeOrder(env.app, alice, 'STRIPE');

    expect(Date.now() - started).toBeLessThan(8000);
    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_TIMEOUT' });
    expect(placed.body.error!.message).toMatch(/timeout/i);
    expect(await statusOf(placed.orderId)).toBe('PAYMENT_FAILED');
    const retry = await env.app.request.post(`/orders/${placed.orderId}/pay`).set(bearer(alice.token));
    expect(retry.status).toBe(200);
  });

  it('when one attempt fails and the SDK retries it, then one intent is created with one idempotency key', async () => {
    env.stripe.failNext({ method: 'POST', path: /^\/v1\/payment_intents$/ }, { status: 500, body: { error: { type: 'api_error', message: 'blip' } } }, 1);
    const placed = await placeOrder(env.app, alice, 'STRIPE');
    expect(placed.status).toBe(201);
    const attempts = env.stripe.requestsTo('POST', /^\/v1\/payment_intents$/).filter((r) => r.idempotencyKey?.includes(placed.orderId));
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts.map((a) => a.idempotencyKey)).size).toBe(1);
  });

  it('when a pending order is paid again, then the same intent is resumed, not a second one created', async () => {
    const { orderId, intentId } = await givenStripeOrder();
    const again = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
    expect(again.status).toBe(200);
    expect(again.body.data.clientSecret).toBe(env.stripe.intents.get(intentId)!.client_secret);
    expect((await orderState(env.app, orderId)).paymentReference).toBe(intentId);
  });

  it('when someone else asks to pay the order, then 404', async () => {
    const { orderId } = await givenStripeOrder();
    const mallory = await givenUser(env.app);
    const res = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(mallory.token));
    expect(res.status).toBe(404);
  });
});

describe('Stripe: giving back a payment of the wrong amount', () => {
  /** The order as the read model shows it once every event of its stream is applied. */
  async function readModelOrder(orderId: string) {
    const stream = await env.app.runtime.deps.store.readStream(`order-${orderId}`);
    const res = await env.app.request
      .get(`/orders/${orderId}`)
      .set(bearer(alice.token))
      .set('X-Min-Position', stream[stream.length - 1]!.position.toString());
    expect(res.status).toBe(200);
    return res.body.data as { status: string; paymentStatus: string; strayRefunds: { pending: number; completed: number } };
  }

  it('when Stripe confirms the refund at once, then the stream records it and the order shows it completed, its own payment still FAILED and retryable', async () => {
    const { orderId, intentId } = await givenStripeOrder(2500);
    env.stripe.pay(intentId, 2400);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));

    await eventually(
      () => eventTypes(env.app, orderId),
      (types) => types.includes('StrayPaymentRefunded'),
    );
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentFailed', 'RefundRequested', 'StrayPaymentRefunded']);
    expect(await readModelOrder(orderId)).toMatchObject({ status: 'PAYMENT_FAILED', paymentStatus: 'FAILED', strayRefunds: { pending: 0, completed: 1 } });
    const history = await env.app.request.get(`/orders/${orderId}/history`).set(bearer(alice.token));
    expect(history.body.data.at(-1)).toMatchObject({
      eventType: 'StrayPaymentRefunded',
      fromStatus: 'PAYMENT_FAILED',
      toStatus: 'PAYMENT_FAILED',
      detail: { provider: 'STRIPE', amount: 2400, currency: 'USD', paymentReference: intentId },
    });
    // Stripe's charge.refunded for the same refund changes nothing more.
    const confirm = await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(intentId));
    expect(confirm.body.outcome).toBe('unchanged');
  });

  it('when Stripe confirms the refund later, then the order shows it pending until charge.refunded arrives, and completed after', async () => {
    env.stripe.refundStatus = 'pending';
    let orderId: string;
    let intentId: string;
    try {
      ({ orderId, intentId } = await givenStripeOrder(2500));
      env.stripe.pay(intentId, 2600);
      await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));
      await eventually(
        async () => [...env.stripe.refunds.values()].find((r) => r.payment_intent === intentId),
        (r) => r !== undefined,
      );
    } finally {
      env.stripe.refundStatus = 'succeeded';
    }
    expect(await readModelOrder(orderId)).toMatchObject({ paymentStatus: 'FAILED', strayRefunds: { pending: 1, completed: 0 } });

    const confirm = await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(intentId, { amountRefunded: 2600 }));
    expect(confirm.body).toMatchObject({ outcome: 'recorded' });
    expect((await eventTypes(env.app, orderId)).at(-1)).toBe('StrayPaymentRefunded');
    expect(await readModelOrder(orderId)).toMatchObject({ paymentStatus: 'FAILED', strayRefunds: { pending: 0, completed: 1 } });
  });
});

describe('Stripe refunds', () => {
  async function givenPaidStripeOrder() {
    const given = await givenStripeOrder();
    env.stripe.pay(given.intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', given.intentId));
    expect(await statusOf(given.orderId)).toBe('PAID');
    return given;
  }

  it('when an admin refunds a paid order, then Stripe refunds the intent and the order is REFUNDED', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({ reason: 'damaged' });

    expect(res.status).toBe(200);
    expect(res.body.data.refund).toMatchObject({ status: 'succeeded' });
    expect(res.body.data.order).toMatchObject({ status: 'REFUNDED', refundedAmount: 2500 });
    const refunds = [...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ amount: 2500, metadata: { orderId } });
    // The reactor sees the same RefundRequested: same idempotency key, no second refund.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId)).toHaveLength(1);
  });

  it('when a user asks for a refund, then 403', async () => {
    const { orderId } = await givenPaidStripeOrder();
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(alice.token)).send({});
    expect(res.status).toBe(403);
  });

  it('when an admin cancels a paid order, then the refund reactor refunds it and the order ends REFUNDED', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    const res = await env.app.request.post(`/orders/${orderId}/cancel`).set(bearer(admin.token)).send({ reason: 'out of stock' });
    expect(res.status).toBe(200);

    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId)).toHaveLength(1);
  });

  it('when Stripe refunds asynchronously, then the order is REFUNDED only when charge.refunded arrives', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    env.stripe.refundStatus = 'pending';
    try {
      const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({});
      expect(res.body.data.refund.status).toBe('pending');
      expect(await statusOf(orderId)).toBe('PAID');
    } finally {
      env.stripe.refundStatus = 'succeeded';
    }
    const confirm = await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(intentId));
    expect(confirm.body.outcome).toBe('recorded');
    expect(await statusOf(orderId)).toBe('REFUNDED');
  });

  it('when charge.refunded reports only part of the payment, then it is recorded as a partial refund and the order is not REFUNDED', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    const res = await sendStripeWebhook(env.app, env.stripe.chargeRefundedEvent(intentId, { amountRefunded: 1000 }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'recorded' });
    expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAID', refundedAmount: 1000 });
  });

  it('when Stripe is down during an admin refund, then 502 says it will be retried, and the reactor completes it', async () => {
    const { orderId, intentId } = await givenPaidStripeOrder();
    // The admin call and the reactor's first attempts fail; then Stripe is back.
    env.stripe.failNext({ method: 'POST', path: /^\/v1\/refunds$/ }, { status: 503, body: { error: { type: 'api_error', message: 'unavailable' } } }, 4);
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({});

    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(/will be retried automatically/);
    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect([...env.stripe.refunds.values()].filter((r) => r.payment_intent === intentId)).toHaveLength(1);
  });

  it('when the order was never paid, then a refund is 409', async () => {
    const { orderId } = await givenStripeOrder();
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({});
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ORDER_INVALID_TRANSITION');
  });
});

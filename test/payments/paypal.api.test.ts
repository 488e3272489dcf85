import { bearer, givenAdmin, givenUser, type TestUser } from '../support/apiHarness';
import { eventTypes, eventually, orderState, placeOrder, sendPayPalWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

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

async function givenPayPalOrder(unitAmount = 3499) {
  const placed = await placeOrder(env.app, alice, 'PAYPAL', { unitAmount });
  expect(placed.status).toBe(201);
  const state = await orderState(env.app, placed.orderId);
  return { orderId: placed.orderId, paypalOrderId: state.paymentReference!, placed };
}

const capture = (orderId: string, token = alice.token) => env.app.request.post('/payments/paypal/capture').set(bearer(token)).send({ orderId });
const statusOf = async (orderId: string) => (await orderState(env.app, orderId)).status;

describe('POST /orders with PAYPAL', () => {
  it('when a PAYPAL order is placed, then a PayPal order is created for the total and its approval link returned', async () => {
    const { orderId, paypalOrderId, placed } = await givenPayPalOrder(3499);

    const paypalOrder = env.paypal.orders.get(paypalOrderId)!;
    expect(paypalOrder.intent).toBe('CAPTURE');
    expect(paypalOrder.purchase_units[0]).toMatchObject({ custom_id: orderId, amount: { currency_code: 'USD', value: '34.99' } });
    expect(placed.body.data?.paymentUrl).toBe(`https://www.sandbox.paypal.com/checkoutnow?token=${paypalOrderId}`);
    const create = env.paypal.requestsTo('POST', /^\/v2\/checkout\/orders$/).find((r) => r.body.includes(orderId));
    expect(create?.requestId).toContain(orderId);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when several orders are placed, then one OAuth token serves them all until it expires', async () => {
    const before = env.paypal.tokenRequests;
    await Promise.all([givenPayPalOrder(), givenPayPalOrder(), givenPayPalOrder()]);
    expect(env.paypal.tokenRequests - before).toBeLessThanOrEqual(1);
  });

  it('when PayPal rejects the cached token, then a new one is fetched once and the call succeeds', async () => {
    await givenPayPalOrder();
    const before = env.paypal.tokenRequests;
    env.paypal.expireTokens();
    await givenPayPalOrder();
    expect(env.paypal.tokenRequests).toBe(before + 1);
  });

  it('when PayPal times out creating the order, then 502 says what failed, and the order is retryable with POST /orders/:id/pay', async () => {
    env.paypal.failNext({ method: 'POST', path: /^\/v2\/checkout\/orders$/ }, 'hang', 2);
    const placed = await placeOrder(env.app, alice, 'PAYPAL');

    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_TIMEOUT', details: { orderId: placed.orderId, orderStatus: 'PAYMENT_FAILED' } });
    expect(placed.body.error!.message).toMatch(/^PayPal order creation failed \(timeout\)\. /);
    expect(await statusOf(placed.orderId)).toBe('PAYMENT_FAILED');

    const retry = await env.app.request.post(`/orders/${placed.orderId}/pay`).set(bearer(alice.token));
    expect(retry.status).toBe(200);
    expect(retry.body.data.paymentUrl).toMatch(/checkoutnow\?token=/);
    expect(await statusOf(placed.orderId)).toBe('PENDING');
  });

  it('when PayPal answers 422 creating the order, then 502 without retries', async () => {
    env.paypal.failNext(
      { method: 'POST', path: /^\/v2\/checkout\/orders$/ },
      { status: 422, body: { name: 'UNPROCESSABLE_ENTITY', details: [{ issue: 'CURRENCY_NOT_SUPPORTED' }] } },
    );
    const before = env.paypal.requestsTo('POST', /^\/v2\/checkout\/orders$/).length;
    const placed = await placeOrder(env.app, alice, 'PAYPAL');
    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', details: { provider: 'PAYPAL', operation: 'order creation' } });
    expect(placed.body.error!.message).not.toContain('CURRENCY_NOT_SUPPORTED'); // PayPal's words go to the log
    expect(env.paypal.requestsTo('POST', /^\/v2\/checkout\/orders$/).length - before).toBe(1);
  });
});

describe('POST /payments/paypal/capture', () => {
  it('when the buyer has not approved yet, then 409 and the order is unchanged', async () => {
    const { orderId } = await givenPayPalOrder();
    const res = await capture(orderId);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'PAYPAL_CAPTURE_REFUSED' });
    expect(res.body.error.message).toMatch(/not approved/);
    expect(await statusOf(orderId)).toBe('PENDING');
  });

  it('when the buyer approved, then the capture completes and the order is PAID', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder(3499);
    env.paypal.approve(paypalOrderId);
    const res = await capture(orderId);

    expect(res.status).toBe(200);
    expect(res.body.data.capture).toMatchObject({ status: 'COMPLETED' });
    expect(res.body.data.order).toMatchObject({ status: 'PAID', paymentStatus: 'SUCCEEDED' });
    expect(await orderState(env.app, orderId)).toMatchObject({ status: 'PAID', paidAmount: 3499, paidReference: paypalOrderId });
  });

  it('when the capture is asked for twice, then it is captured and recorded once', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    env.paypal.approve(paypalOrderId);
    const [first, second] = await Promise.all([capture(orderId), capture(orderId)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(env.paypal.captures.size).toBeGreaterThan(0);
    expect([...env.paypal.captures.values()].filter((c) => c.supplementary_data.related_ids.order_id === paypalOrderId)).toHaveLength(1);
    expect((await eventTypes(env.app, orderId)).filter((t) => t === 'PaymentSucceeded')).toHaveLength(1);
  });

  it('when the capture is declined, then the order is PAYMENT_FAILED and can be paid again', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    env.paypal.approve(paypalOrderId);
    env.paypal.captureStatus = 'DECLINED';
    try {
      const res = await capture(orderId);
      expect(res.body.data.capture.status).toBe('DECLINED');
    } finally {
      env.paypal.captureStatus = 'COMPLETED';
    }
    expect(await statusOf(orderId)).toBe('PAYMENT_FAILED');
    const retry = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
    expect(retry.body.data.paymentUrl).toBeDefined();
  });

  it('when the capture is still pending at PayPal, then the order stays PENDING until the webhook settles it', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    env.paypal.approve(paypalOrderId);
    env.paypal.captureStatus = 'PENDING';
    try {
      const res = await capture(orderId);
      expect(res.body.data.capture.status).toBe('PENDING');
    } finally {
      env.paypal.captureStatus = 'COMPLETED';
    }
    expect(await statusOf(orderId)).toBe('PENDING');
  });

  it('when PayPal times out on the capture, then 502 and the order is unchanged; the retry captures once', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    env.paypal.approve(paypalOrderId);
    env.paypal.failNext({ method: 'POST', path: /\/capture$/ }, 'hang', 2);
    const res = await capture(orderId);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_TIMEOUT');
    expect(await statusOf(orderId)).toBe('PENDING');

    const retry = await capture(orderId);
    expect(retry.status).toBe(200);
    expect(await statusOf(orderId)).toBe('PAID');
  });

  it('when someone else captures the order, then 404', async () => {
    const { orderId } = await givenPayPalOrder();
    const mallory = await givenUser(env.app);
    expect((await capture(orderId, mallory.token)).status).toBe(404);
  });

  it('when the order is not a PayPal order, then 409 PAYMENT_METHOD_MISMATCH', async () => {
    const manual = await placeOrder(env.app, alice, 'MANUAL');
    const res = await capture(manual.orderId);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PAYMENT_METHOD_MISMATCH');
  });
});

describe('POST /payments/webhook/paypal', () => {
  it('when PAYMENT.CAPTURE.COMPLETED is verified, then the order is PAID; the same notification again changes nothing', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    const notification = env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id);

    const first = await sendPayPalWebhook(env.app, notification);
    const again = await sendPayPalWebhook(env.app, notification);

    expect(first.status).toBe(200);
    expect([first.body.outcome, again.body.outcome]).toEqual(['recorded', 'unchanged']);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentSucceeded']);
    // The owner's capture call afterwards finds the capture already made.
    const res = await capture(orderId);
    expect(res.status).toBe(200);
    expect(env.paypal.certificateFetches).toBe(0);
  });

  it('when the same notification arrives ten times concurrently, then one PaymentSucceeded is stored', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    const notification = env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id);
    const answers = await Promise.all(Array.from({ length: 10 }, () => sendPayPalWebhook(env.app, notification)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect((await eventTypes(env.app, orderId)).filter((t) => t === 'PaymentSucceeded')).toHaveLength(1);
  });

  it('when a notification is forged, tampered with, for another webhook or missing headers, then 400 and nothing is recorded', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    const forged = env.paypal.notification('PAYMENT.CAPTURE.COMPLETED', captured, { forge: true });
    const good = env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id);
    const tampered = { ...good, body: good.body.replace('"value": "34.99"', '"value": "0.01"') };
    expect(tampered.body).not.toBe(good.body);
    const otherWebhook = env.paypal.notification('PAYMENT.CAPTURE.COMPLETED', captured, { webhookId: 'WH-SOMEONE-ELSE' });
    const { ['PAYPAL-TRANSMISSION-SIG']: _dropped, ...withoutSignature } = good.headers;

    const answers = await Promise.all([
      sendPayPalWebhook(env.app, forged),
      sendPayPalWebhook(env.app, tampered),
      sendPayPalWebhook(env.app, otherWebhook),
      sendPayPalWebhook(env.app, { body: good.body, headers: withoutSignature }),
    ]);

    expect(answers.map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expect(answers.map((a) => a.body.error.code)).toEqual(['WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_SIGNATURE_MISSING']);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
    expect(env.paypal.certificateFetches).toBe(0);
  });

  it('when the body has the JSON PayPal signed but not its bytes (re-encoded, keys reordered), then 400 and nothing is recorded', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    const good = env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id);
    const event = JSON.parse(good.body) as Record<string, unknown>;
    const reencoded = { ...good, body: JSON.stringify(event) };
    const reordered = { ...good, body: JSON.stringify(Object.fromEntries(Object.entries(event).reverse()), null, 2) };
    for (const copy of [reencoded, reordered]) {
      expect(copy.body).not.toBe(good.body);
      expect(JSON.parse(copy.body)).toEqual(event);
    }

    const answers = await Promise.all([sendPayPalWebhook(env.app, reencoded), sendPayPalWebhook(env.app, reordered)]);

    expect(answers.map((a) => [a.status, a.body.error?.code])).toEqual([
      [400, 'WEBHOOK_SIGNATURE_INVALID'],
      [400, 'WEBHOOK_SIGNATURE_INVALID'],
    ]);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when the signed body has odd whitespace, key order and unicode escapes that re-encoding would change, then it is verified over the bytes received and the order is PAID', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    // Escapes and spacing JSON.stringify never writes: any parse-and-re-encode changes these bytes.
    const encode = (event: Record<string, unknown>): string => {
      const { resource, summary, ...rest } = event;
      const members = [
        `"resource" :  ${JSON.stringify(resource)}`,
        `"summary":"Paiement re\\u00e7u \\u2714 ${String(summary)}"`,
        ...Object.entries(rest)
          .reverse()
          .map(([name, value]) => `"${name}":\t${JSON.stringify(value)}`),
      ];
      return `{\r\n  ${members.join(' ,\r\n  ')}\r\n}`;
    };
    const notification = env.paypal.notification('PAYMENT.CAPTURE.COMPLETED', captured, { encode });
    expect(notification.body).toContain('\\u00e7');
    expect(JSON.stringify(JSON.parse(notification.body))).not.toBe(notification.body);
    expect(JSON.stringify(JSON.parse(notification.body), null, 2)).not.toBe(notification.body);

    const res = await sendPayPalWebhook(env.app, notification);

    expect([res.status, res.body.outcome]).toEqual([200, 'recorded']);
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentSucceeded']);
  });

  it('when PayPal cannot verify right now, then 503 so PayPal delivers again, and nothing is recorded', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    env.paypal.failNext({ path: /verify-webhook-signature/ }, { status: 500, body: { name: 'INTERNAL_SERVER_ERROR' } }, 2);
    const res = await sendPayPalWebhook(env.app, env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_UNAVAILABLE');
    expect(await statusOf(orderId)).toBe('PENDING');
  });

  it('when a completed capture is for another amount, then the order is not PAID and the money is refunded', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder(3499);
    const captured = env.paypal.captureOutOfBand(paypalOrderId, 'COMPLETED', { currency_code: 'USD', value: '30.00' });
    const res = await sendPayPalWebhook(env.app, env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id));

    expect(res.body.outcome).toBe('recorded');
    expect(await statusOf(orderId)).toBe('PAYMENT_FAILED');
    const refund = await eventually(
      async () => [...env.paypal.refunds.values()][env.paypal.refunds.size - 1],
      (r) => r?.custom_id === orderId,
    );
    expect(refund?.amount).toEqual({ currency_code: 'USD', value: '30.00' });
  });

  it('when PAYMENT.CAPTURE.DENIED arrives, then the order is PAYMENT_FAILED; a late COMPLETED for the same attempt then pays it', async () => {
    const { orderId, paypalOrderId } = await givenPayPalOrder();
    const denied = env.paypal.captureOutOfBand(paypalOrderId, 'DECLINED');
    await sendPayPalWebhook(env.app, env.paypal.captureNotification('PAYMENT.CAPTURE.DENIED', denied.id));
    expect(await statusOf(orderId)).toBe('PAYMENT_FAILED');
    await sendPayPalWebhook(env.app, env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', denied.id, { status: 'COMPLETED' }));
    expect(await statusOf(orderId)).toBe('PAID');
  });

  it('when a PayPal capture names a STRIPE order, then it is ignored and the order is not paid', async () => {
    const stripeOrder = await placeOrder(env.app, alice, 'STRIPE');
    const { paypalOrderId } = await givenPayPalOrder();
    const captured = env.paypal.captureOutOfBand(paypalOrderId);
    const res = await sendPayPalWebhook(env.app, env.paypal.captureNotification('PAYMENT.CAPTURE.COMPLETED', captured.id, { custom_id: stripeOrder.orderId }));
    expect(res.body).toMatchObject({ outcome: 'ignored' });
    expect(res.body.reason).toMatch(/paid by STRIPE, not PAYPAL/);
    expect(await statusOf(stripeOrder.orderId)).toBe('PENDING');
  });

  it('when an event type is not handled, then 200 and it is ignored', async () => {
    const res = await sendPayPalWebhook(env.app, env.paypal.notification('CHECKOUT.ORDER.APPROVED', { id: 'X' }));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('ignored');
  });
});

describe('PayPal refunds', () => {
  async function givenPaidPayPalOrder() {
    const given = await givenPayPalOrder(3499);
    env.paypal.approve(given.paypalOrderId);
    expect((await capture(given.orderId)).status).toBe(200);
    const captureId = [...env.paypal.captures.values()].find((c) => c.supplementary_data.related_ids.order_id === given.paypalOrderId)!.id;
    return { ...given, captureId };
  }
  const refundsOf = (captureId: string) => [...env.paypal.refunds.values()].filter((r) => r.links.some((l) => l.rel === 'up' && l.href.endsWith(`/captures/${captureId}`)));

  it('when an admin refunds a paid order, then PayPal refunds the capture and the order is REFUNDED', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({ reason: 'return' });

    expect(res.status).toBe(200);
    expect(res.body.data.refund.status).toBe('succeeded');
    expect(res.body.data.order).toMatchObject({ status: 'REFUNDED', refundedAmount: 3499 });
    expect(refundsOf(captureId)).toHaveLength(1);
    expect(refundsOf(captureId)[0]).toMatchObject({ amount: { currency_code: 'USD', value: '34.99' }, custom_id: orderId });
    const stream = await env.app.runtime.deps.store.readStream(`order-${orderId}`);
    const request = stream.find((e) => e.type === 'RefundRequested')!;
    expect(env.paypal.requestsTo('POST', /\/refund$/).find((r) => r.body.includes(orderId))?.requestId).toBe(request.id);
  });

  it('when a PayPal refund is pending, then PAYMENT.CAPTURE.REFUNDED completes it (once, however often delivered)', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    env.paypal.refundStatus = 'PENDING';
    try {
      const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({});
      expect(res.body.data.refund.status).toBe('pending');
    } finally {
      env.paypal.refundStatus = 'COMPLETED';
    }
    expect(await statusOf(orderId)).toBe('PAID');
    const refund = refundsOf(captureId)[0]!;
    refund.status = 'COMPLETED';
    const notification = env.paypal.refundNotification(refund.id);
    const answers = await Promise.all([sendPayPalWebhook(env.app, notification), sendPayPalWebhook(env.app, notification)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(await statusOf(orderId)).toBe('REFUNDED');
    expect((await eventTypes(env.app, orderId)).filter((t) => t === 'OrderRefunded')).toHaveLength(1);
  });

  it('when an admin cancels a paid PayPal order, then the reactor refunds the capture and the order ends REFUNDED', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    expect((await env.app.request.post(`/orders/${orderId}/cancel`).set(bearer(admin.token)).send({})).status).toBe(200);
    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect(refundsOf(captureId)).toHaveLength(1);
  });

  it('when PayPal times out on the refund, then 502 and the reactor refunds it exactly once later', async () => {
    const { orderId, captureId } = await givenPaidPayPalOrder();
    // The admin call and the reactor (which sees the same request) both run into the outage: two attempts each.
    env.paypal.failNext({ method: 'POST', path: /\/refund$/ }, 'hang', 4);
    const res = await env.app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({});
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_TIMEOUT');
    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect(refundsOf(captureId)).toHaveLength(1);
  });
});

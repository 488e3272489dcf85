import { randomUUID } from 'node:crypto';
import { orderStreamId } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';
import { FakePayPal } from '../fakes/paypal/fakePayPal';
import { FakeStripe } from '../fakes/stripe/fakeStripe';
import { bearer } from '../support/apiHarness';
import { startCommandApp, type CommandApp } from '../support/commandApp';
import { anOrder, orderPlaced, paidOrder, paymentFailed, paymentInitiated, refundRequested, statusChanged, type OrderFacts } from '../support/orderEvents';

/**
 * Order commands over HTTP on the in-memory event store: given the order's events, when a request,
 * then the new events (and the answer). No PostgreSQL.
 */
let app: CommandApp;
let stripe: FakeStripe;
let paypal: FakePayPal;
const admin = { id: randomUUID(), role: 'admin' as const };

beforeAll(async () => {
  [stripe, paypal] = await Promise.all([FakeStripe.start(), FakePayPal.start()]);
  app = await startCommandApp({
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
    STRIPE_API_HOST: '127.0.0.1',
    STRIPE_API_PORT: String(stripe.port),
    STRIPE_API_PROTOCOL: 'http',
    PAYPAL_CLIENT_ID: paypal.clientId,
    PAYPAL_CLIENT_SECRET: paypal.clientSecret,
    PAYPAL_WEBHOOK_ID: paypal.webhookId,
    PAYPAL_API_BASE: paypal.url,
    HTTP_CLIENT_TIMEOUT_MS: '1000',
  });
});

afterAll(async () => {
  await app.stop();
  await Promise.all([stripe.close(), paypal.close()]);
});

const types = (events: OrderEvent[]): string[] => events.map((e) => e.type);
const asOwner = (order: OrderFacts) => bearer(app.token({ id: order.userId }));
const asAdmin = () => bearer(app.token(admin));

describe('fulfilment and cancellation', () => {
  it('when an admin moves a paid order to PROCESSING, then OrderStatusChanged is appended and the answer carries the new revision as ETag', async () => {
    const order = anOrder();
    await app.given(order.orderId, ...paidOrder(order));

    const res = await app.request.patch(`/orders/${order.orderId}/status`).set(asAdmin()).send({ status: 'PROCESSING' });

    expect(res.status).toBe(200);
    expect(await app.newEvents(order.orderId)).toMatchObject([{ type: 'OrderStatusChanged', data: { from: 'PAID', to: 'PROCESSING' } }]);
    expect(res.headers.etag).toBe('"2"');
    expect(res.headers['x-consistency']).toBe('consistent');
    expect(res.body.data.order).toMatchObject({ id: order.orderId, status: 'PROCESSING', revision: 2 });
  });

  it('when a step skips one (PAID to SHIPPED), then 409 names both states and nothing is appended', async () => {
    const order = anOrder();
    await app.given(order.orderId, ...paidOrder(order));

    const res = await app.request.patch(`/orders/${order.orderId}/status`).set(asAdmin()).send({ status: 'SHIPPED' });

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ORDER_INVALID_TRANSITION');
    expect(res.body.error.message).toMatch(/PAID.*SHIPPED/);
    expect(await app.newEvents(order.orderId)).toEqual([]);
  });

  it('when If-Match names a stale revision, then 412 and nothing is appended; the current one is accepted', async () => {
    const order = anOrder();
    await app.given(order.orderId, ...paidOrder(order));

    const stale = await app.request.patch(`/orders/${order.orderId}/status`).set(asAdmin()).set('If-Match', '"0"').send({ status: 'PROCESSING' });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('REVISION_MISMATCH');
    expect(await app.newEvents(order.orderId)).toEqual([]);

    const current = await app.request.patch(`/orders/${order.orderId}/status`).set(asAdmin()).set('If-Match', '"1"').send({ status: 'PROCESSING' });
    expect(current.status).toBe(200);
    expect(current.headers.etag).toBe('"2"');
  });

  it('when the owner cancels an unpaid order, then OrderCancelled with the reason', async () => {
    const order = anOrder();
    await app.given(order.orderId, orderPlaced(order));

    const res = await app.request.post(`/orders/${order.orderId}/cancel`).set(asOwner(order)).send({ reason: 'changed my mind' });

    expect(res.status).toBe(200);
    expect(await app.newEvents(order.orderId)).toMatchObject([{ type: 'OrderCancelled', data: { from: 'PENDING', reason: 'changed my mind' } }]);
    expect(res.headers.etag).toBe('"1"');
  });

  it('when someone else cancels the order, even naming its revision, then 404 as if it did not exist, and nothing is appended', async () => {
    const order = anOrder();
    await app.given(order.orderId, orderPlaced(order));

    const res = await app.request
      .post(`/orders/${order.orderId}/cancel`)
      .set(bearer(app.token({ id: randomUUID() })))
      .set('If-Match', '"5"')
      .send({});

    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('ORDER_NOT_FOUND');
    expect(await app.newEvents(order.orderId)).toEqual([]);
  });

  it('when an admin cancels a paid order, then the cancellation requests the refund of its own payment', async () => {
    const order = anOrder();
    await app.given(order.orderId, ...paidOrder(order));

    const res = await app.request.post(`/orders/${order.orderId}/cancel`).set(asAdmin()).send({});

    expect(res.status).toBe(200);
    expect(await app.newEvents(order.orderId)).toMatchObject([
      { type: 'OrderCancelled', data: { from: 'PAID' } },
      { type: 'RefundRequested', data: { amount: 2500, stray: false } },
    ]);
    expect(res.headers.etag).toBe('"3"');
  });
});

describe('MANUAL payments', () => {
  it('when an admin marks a MANUAL order paid, then PaymentSucceeded for its total', async () => {
    const order = anOrder({ totalAmount: 4200 });
    await app.given(order.orderId, orderPlaced(order));

    const res = await app.request.post(`/orders/${order.orderId}/mark-paid`).set(asAdmin()).send({});

    expect(res.status).toBe(200);
    expect(await app.newEvents(order.orderId)).toMatchObject([{ type: 'PaymentSucceeded', data: { provider: 'MANUAL', amount: 4200, currency: 'USD' } }]);
    expect(res.headers.etag).toBe('"1"');
  });

  it('when a STRIPE order is marked paid by hand, then 409 and nothing is appended', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE' });
    await app.given(order.orderId, orderPlaced(order));

    const res = await app.request.post(`/orders/${order.orderId}/mark-paid`).set(asAdmin()).send({});

    expect(res.status).toBe(409);
    expect(await app.newEvents(order.orderId)).toEqual([]);
  });

  it('when an admin refunds a paid MANUAL order and then confirms the payout, then RefundRequested, then OrderRefunded', async () => {
    const order = anOrder();
    await app.given(order.orderId, ...paidOrder(order));

    const refund = await app.request.post(`/orders/${order.orderId}/refund`).set(asAdmin()).send({ reason: 'damaged' });
    expect(refund.status).toBe(200);
    expect(refund.body.data.refund).toEqual({ status: 'awaiting_confirmation' });
    expect(refund.headers.etag).toBe('"2"');
    expect(types(await app.newEvents(order.orderId))).toEqual(['RefundRequested']);

    const confirm = await app.request.post(`/orders/${order.orderId}/refund/confirm`).set(asAdmin()).send();
    expect(confirm.status).toBe(200);
    expect(confirm.headers.etag).toBe('"3"');
    expect(confirm.body.data.order).toMatchObject({ status: 'REFUNDED', paymentStatus: 'REFUNDED' });
    expect(types(await app.newEvents(order.orderId))).toEqual(['RefundRequested', 'OrderRefunded']);
  });
});

describe('online payments', () => {
  it('when the owner starts a STRIPE payment, then PaymentInitiated names the new PaymentIntent and the client secret comes back', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE', totalAmount: 1999 });
    await app.given(order.orderId, orderPlaced(order));

    const res = await app.request.post(`/orders/${order.orderId}/pay`).set(asOwner(order)).send();

    expect(res.status).toBe(200);
    const [initiated] = await app.newEvents(order.orderId);
    expect(initiated).toMatchObject({ type: 'PaymentInitiated', data: { provider: 'STRIPE', amount: 1999 } });
    const intentId = initiated?.type === 'PaymentInitiated' ? initiated.data.providerReference : '';
    expect(stripe.intents.get(intentId)).toMatchObject({ amount: 1999, metadata: { orderId: order.orderId } });
    expect(res.body.data.clientSecret).toBe(stripe.intents.get(intentId)?.client_secret);
    expect(res.headers.etag).toBe('"1"');
  });

  it('when a MANUAL order is sent to /pay, then 409 PAYMENT_NOT_ONLINE', async () => {
    const order = anOrder();
    await app.given(order.orderId, orderPlaced(order));
    const res = await app.request.post(`/orders/${order.orderId}/pay`).set(asOwner(order)).send();
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PAYMENT_NOT_ONLINE');
  });

  it('when Stripe reports the PaymentIntent succeeded, then PaymentSucceeded; the same event again appends nothing', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE', totalAmount: 1999 });
    const session = await app.deps.payments!.providers.provider('STRIPE').createPayment({ ...order, amount: 1999, idempotencyKey: randomUUID() });
    await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, session.reference));
    stripe.pay(session.reference);
    const event = stripe.intentEvent('payment_intent.succeeded', session.reference);

    const first = await app.request.post('/payments/webhook/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', event.header).send(event.payload);
    const again = await app.request.post('/payments/webhook/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', event.header).send(event.payload);

    expect([first.status, first.body.outcome, again.body.outcome]).toEqual([200, 'recorded', 'unchanged']);
    expect(await app.newEvents(order.orderId)).toMatchObject([
      { type: 'PaymentSucceeded', data: { provider: 'STRIPE', providerReference: session.reference, amount: 1999, currency: 'USD' } },
    ]);
  });

  it('when a webhook names a provider we do not know, then 404 and nothing is read', async () => {
    const res = await app.request.post('/payments/webhook/acme').set('Content-Type', 'application/json').send('{}');
    expect(res.status).toBe(404);
  });

  it('when the buyer approved a PayPal payment and the owner captures it, then PaymentSucceeded from the capture', async () => {
    const order = anOrder({ paymentMethod: 'PAYPAL', totalAmount: 3499 });
    const session = await app.deps.payments!.providers.provider('PAYPAL').createPayment({ ...order, amount: 3499, idempotencyKey: randomUUID() });
    await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, session.reference));
    paypal.approve(session.reference);

    const res = await app.request.post('/payments/paypal/capture').set(asOwner(order)).send({ orderId: order.orderId });

    expect(res.status).toBe(200);
    expect(res.body.data.capture).toMatchObject({ status: 'COMPLETED' });
    expect(await app.newEvents(order.orderId)).toMatchObject([{ type: 'PaymentSucceeded', data: { provider: 'PAYPAL', amount: 3499, providerReference: session.reference } }]);
    expect(res.headers.etag).toBe('"2"');
  });

  it('when an admin refunds a paid STRIPE order, then the refund is requested and, Stripe refunding at once, recorded', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE', totalAmount: 1999 });
    const session = await app.deps.payments!.providers.provider('STRIPE').createPayment({ ...order, amount: 1999, idempotencyKey: randomUUID() });
    stripe.pay(session.reference);
    await app.given(order.orderId, ...paidOrder(order, session.reference));

    const res = await app.request.post(`/orders/${order.orderId}/refund`).set(asAdmin()).send({});

    expect(res.status).toBe(200);
    expect(res.body.data.refund).toMatchObject({ status: 'succeeded' });
    expect(await app.newEvents(order.orderId)).toMatchObject([
      { type: 'RefundRequested', data: { providerReference: session.reference, amount: 1999, stray: false } },
      { type: 'OrderRefunded', data: { provider: 'STRIPE', amount: 1999 } },
    ]);
    expect(res.headers.etag).toBe('"4"');
  });
});

describe('each command route reads the order stream once', () => {
  const cases: Array<[string, () => Promise<{ order: OrderFacts; send: () => Promise<{ status: number }> }>]> = [
    [
      'PATCH /orders/:id/status',
      async () => {
        const order = anOrder();
        await app.given(order.orderId, ...paidOrder(order));
        return { order, send: () => app.request.patch(`/orders/${order.orderId}/status`).set(asAdmin()).send({ status: 'PROCESSING' }) };
      },
    ],
    [
      'POST /orders/:id/cancel',
      async () => {
        const order = anOrder();
        await app.given(order.orderId, orderPlaced(order));
        return { order, send: () => app.request.post(`/orders/${order.orderId}/cancel`).set(asOwner(order)).send({}) };
      },
    ],
    [
      'POST /orders/:id/mark-paid',
      async () => {
        const order = anOrder();
        await app.given(order.orderId, orderPlaced(order));
        return { order, send: () => app.request.post(`/orders/${order.orderId}/mark-paid`).set(asAdmin()).send({}) };
      },
    ],
    [
      'POST /orders/:id/pay',
      async () => {
        const order = anOrder({ paymentMethod: 'STRIPE' });
        await app.given(order.orderId, orderPlaced(order), paymentFailed(order));
        return { order, send: () => app.request.post(`/orders/${order.orderId}/pay`).set(asOwner(order)).send() };
      },
    ],
    [
      'POST /payments/paypal/capture',
      async () => {
        const order = anOrder({ paymentMethod: 'PAYPAL' });
        const session = await app.deps.payments!.providers.provider('PAYPAL').createPayment({ ...order, amount: order.totalAmount, idempotencyKey: randomUUID() });
        paypal.approve(session.reference);
        await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, session.reference));
        return { order, send: () => app.request.post('/payments/paypal/capture').set(asOwner(order)).send({ orderId: order.orderId }) };
      },
    ],
    [
      'POST /orders/:id/refund',
      async () => {
        const order = anOrder({ paymentMethod: 'STRIPE' });
        const session = await app.deps.payments!.providers.provider('STRIPE').createPayment({ ...order, amount: order.totalAmount, idempotencyKey: randomUUID() });
        stripe.pay(session.reference);
        await app.given(order.orderId, ...paidOrder(order, session.reference));
        return { order, send: () => app.request.post(`/orders/${order.orderId}/refund`).set(asAdmin()).send({}) };
      },
    ],
    [
      'POST /orders/:id/refund/confirm',
      async () => {
        const order = anOrder();
        await app.given(order.orderId, ...paidOrder(order), refundRequested(order, { stray: false }));
        return { order, send: () => app.request.post(`/orders/${order.orderId}/refund/confirm`).set(asAdmin()).send() };
      },
    ],
    [
      'POST /payments/webhook/stripe',
      async () => {
        const order = anOrder({ paymentMethod: 'STRIPE' });
        const session = await app.deps.payments!.providers.provider('STRIPE').createPayment({ ...order, amount: order.totalAmount, idempotencyKey: randomUUID() });
        stripe.pay(session.reference);
        await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, session.reference));
        const event = stripe.intentEvent('payment_intent.succeeded', session.reference);
        return {
          order,
          send: () => app.request.post('/payments/webhook/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', event.header).send(event.payload),
        };
      },
    ],
  ];

  it.each(cases)('%s', async (_route, arrange) => {
    const { order, send } = await arrange();
    const res = await send();
    expect(res.status).toBe(200);
    expect((await app.newEvents(order.orderId)).length).toBeGreaterThan(0);
    expect(app.streamReads(order.orderId)).toBe(1);
  });
});

describe('refund scope', () => {
  it("when a refund request stored before the stray flag (v2) gave back a wrong-amount payment, then the timeline shows it as stray money, not the order's refund", async () => {
    const order = anOrder({ paymentMethod: 'STRIPE' });
    await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, 'pi_attempt'), paymentFailed(order, 'amount mismatch', 'pi_attempt'));
    // A v2 event: no `stray` (written as the code of that time wrote it).
    await app.store.appendToStream(
      orderStreamId(order.orderId),
      [
        {
          id: randomUUID(),
          type: 'RefundRequested',
          data: {
            orderId: order.orderId,
            provider: 'STRIPE',
            providerReference: 'pi_attempt',
            amount: 100,
            currency: 'USD',
            reason: 'amount mismatch',
            requestedAt: '2026-01-01T00:00:00.000Z',
          },
          metadata: { schemaVersion: 2 },
        },
      ],
      { expectedRevision: 2n },
    );

    const res = await app.request.get(`/orders/${order.orderId}/timeline`).set(asOwner(order));

    expect(res.status).toBe(200);
    const last = res.body.data.at(-1);
    expect(last.state).toMatchObject({ refundRequested: false, strayPayments: [{ reference: 'pi_attempt', amount: 100, refunded: false }] });
    expect(app.streamReads(order.orderId)).toBe(1);
  });

  it.each([['in processing', (order: OrderFacts) => [...paidOrder(order), statusChanged(order, 'PAID', 'PROCESSING')]]])(
    'when the order is %s, then a refund request from the owner is refused (admins only)',
    async (_label, events) => {
      const order = anOrder();
      await app.given(order.orderId, ...events(order));
      const res = await app.request.post(`/orders/${order.orderId}/refund`).set(asOwner(order)).send({});
      expect(res.status).toBe(403);
      expect(await app.newEvents(order.orderId)).toEqual([]);
    },
  );
});

describe('the webhook route', () => {
  it('when the provider name comes in capitals or with a trailing slash, then the same adapter receives it', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE', totalAmount: 1999 });
    const session = await app.deps.payments!.providers.provider('STRIPE').createPayment({ ...order, amount: 1999, idempotencyKey: randomUUID() });
    await app.given(order.orderId, orderPlaced(order), paymentInitiated(order, session.reference));
    stripe.pay(session.reference);
    const event = stripe.intentEvent('payment_intent.succeeded', session.reference);
    for (const path of ['/payments/webhook/STRIPE', '/payments/webhook/stripe/']) {
      const res = await app.request.post(path).set('Content-Type', 'application/json').set('Stripe-Signature', event.header).send(event.payload);
      expect(res.status).toBe(200);
    }
    expect(types(await app.newEvents(order.orderId))).toEqual(['PaymentSucceeded']);
  });

  it('when a delivery is not signed, then 400 and nothing is appended', async () => {
    const order = anOrder({ paymentMethod: 'STRIPE' });
    await app.given(order.orderId, orderPlaced(order));
    const res = await app.request.post('/payments/webhook/paypal').set('Content-Type', 'application/json').send('{}');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('WEBHOOK_SIGNATURE_MISSING');
    expect(await app.newEvents(order.orderId)).toEqual([]);
  });
});

import type supertest from 'supertest';
import { bearer, givenAdmin, givenUser, type TestUser } from '../support/apiHarness';
import { orderState, placeOrder, sendStripeWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

/**
 * Every command route while the read model lags: the projector is stopped, so no read-your-writes
 * wait can succeed. A command that was applied must answer from its own result (the order folded
 * from the stream by the projection's code), say the read model is behind, and never answer 5xx.
 */
let env: PaymentsApp;
let alice: TestUser;
let admin: TestUser;

beforeAll(async () => {
  env = await startPaymentsApp({ CONSISTENCY_WAIT_MS: '300' });
  [alice, admin] = await Promise.all([givenUser(env.app), givenAdmin(env.app)]);
});

afterAll(async () => {
  await env?.stop();
});

interface CommandAnswer {
  order: Record<string, unknown> & { id: string; status: string; revision: number };
  position: string;
  consistency: string;
}

async function placed(method: 'STRIPE' | 'PAYPAL' | 'MANUAL'): Promise<string> {
  const res = await placeOrder(env.app, alice, method);
  expect(res.status).toBe(201);
  return res.orderId;
}

/** The answer of an applied command while the read model lags: 2xx, flagged, the order from the stream. */
function expectPending(res: supertest.Response, status = 200): CommandAnswer {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { status: 'success' } });
  expect(res.headers['x-consistency']).toBe('pending');
  const data = res.body.data as CommandAnswer;
  expect(data.consistency).toBe('pending');
  return data;
}

describe('command routes while the read model lags', () => {
  const answers = new Map<string, CommandAnswer>();

  it('when every command route is called with the projector stopped, then each answers from its own result, flagged pending', async () => {
    // Orders in the states the commands need, set up while the projector still runs.
    const [pendingManual, toCancel, paidManual, refundedManual, failedStripe, paidStripe, approvedPayPal] = await Promise.all([
      placed('MANUAL'),
      placed('MANUAL'),
      placed('MANUAL'),
      placed('MANUAL'),
      placed('STRIPE'),
      placed('STRIPE'),
      placed('PAYPAL'),
    ]);
    for (const id of [paidManual, refundedManual]) {
      expect((await env.app.request.post(`/orders/${id}/mark-paid`).set(bearer(admin.token)).send({})).status).toBe(200);
    }
    expect((await env.app.request.post(`/orders/${refundedManual}/refund`).set(bearer(admin.token)).send({})).status).toBe(200);
    const declined = (await orderState(env.app, failedStripe)).paymentReference!;
    env.stripe.decline(declined);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.payment_failed', declined));
    const paidIntent = (await orderState(env.app, paidStripe)).paymentReference!;
    env.stripe.pay(paidIntent);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', paidIntent));
    env.paypal.approve((await orderState(env.app, approvedPayPal)).paymentReference!);
    expect((await orderState(env.app, failedStripe)).status).toBe('PAYMENT_FAILED');
    expect((await orderState(env.app, paidStripe)).status).toBe('PAID');

    await env.app.runtime.deps.projector!.stop();

    const placedNow = expectPending(
      await env.app.request
        .post('/orders')
        .set(bearer(alice.token))
        .send({ items: [{ productId: (await env.app.request.get('/products').then((r) => r.body.data[0].id)) as string, quantity: 2 }], paymentMethod: 'MANUAL' }),
      201,
    );
    expect(placedNow.order).toMatchObject({ status: 'PENDING', paymentStatus: 'PENDING', revision: 0 });
    answers.set('POST /orders', placedNow);

    const markPaid = expectPending(await env.app.request.post(`/orders/${pendingManual}/mark-paid`).set(bearer(admin.token)).send({}));
    expect(markPaid.order).toMatchObject({ id: pendingManual, status: 'PAID', paymentStatus: 'SUCCEEDED', paymentProvider: 'MANUAL' });
    answers.set('mark-paid', markPaid);

    const status = expectPending(await env.app.request.patch(`/orders/${paidManual}/status`).set(bearer(admin.token)).send({ status: 'PROCESSING' }));
    expect(status.order).toMatchObject({ id: paidManual, status: 'PROCESSING' });
    answers.set('status', status);

    const cancel = expectPending(await env.app.request.post(`/orders/${toCancel}/cancel`).set(bearer(alice.token)).send({ reason: 'changed my mind' }));
    expect(cancel.order).toMatchObject({ id: toCancel, status: 'CANCELLED' });
    answers.set('cancel', cancel);

    const pay = await env.app.request.post(`/orders/${failedStripe}/pay`).set(bearer(alice.token));
    const payAnswer = expectPending(pay);
    expect(pay.body.data.clientSecret).toMatch(/_secret_/);
    expect(payAnswer.order).toMatchObject({ id: failedStripe, status: 'PENDING', paymentStatus: 'INITIATED' });
    answers.set('pay', payAnswer);

    const capture = await env.app.request.post('/payments/paypal/capture').set(bearer(alice.token)).send({ orderId: approvedPayPal });
    const captureAnswer = expectPending(capture);
    expect(capture.body.data.capture).toMatchObject({ status: 'COMPLETED' });
    expect(captureAnswer.order).toMatchObject({ id: approvedPayPal, status: 'PAID', paymentStatus: 'SUCCEEDED' });
    answers.set('capture', captureAnswer);

    const refund = await env.app.request.post(`/orders/${paidStripe}/refund`).set(bearer(admin.token)).send({ reason: 'damaged' });
    const refundAnswer = expectPending(refund);
    expect(refund.body.data.refund).toMatchObject({ status: 'succeeded' });
    expect(refundAnswer.order).toMatchObject({ id: paidStripe, status: 'REFUNDED', paymentStatus: 'REFUNDED', refundedAmount: 2500 });
    answers.set('refund', refundAnswer);

    const confirm = expectPending(await env.app.request.post(`/orders/${refundedManual}/refund/confirm`).set(bearer(admin.token)));
    expect(confirm.order).toMatchObject({ id: refundedManual, status: 'REFUNDED', paymentStatus: 'REFUNDED' });
    answers.set('refund confirm', confirm);

    // A retry of an applied command is refused as a transition, not hidden behind a 5xx.
    const retry = await env.app.request.post(`/orders/${pendingManual}/mark-paid`).set(bearer(admin.token)).send({});
    expect(retry.status).toBe(409);
  });

  it('when the projector catches up, then the read model shows exactly the order each command answered with', async () => {
    expect(answers.size).toBe(8);
    env.app.runtime.deps.projector!.start();
    for (const [route, answer] of answers) {
      const res = await env.app.request.get(`/orders/${answer.order.id}`).set(bearer(admin.token)).set('X-Min-Position', answer.position);
      expect({ route, status: res.status }).toEqual({ route, status: 200 });
      expect({ route, order: res.body.data }).toEqual({ route, order: answer.order });
    }
  });

  it('when the read model keeps up, then a command says so', async () => {
    // The 300 ms wait above makes the stopped projector's answers quick; here the claim is about the
    // answer once the projector keeps up, not about how fast a loaded machine schedules it.
    env.app.runtime.deps.config.CONSISTENCY_WAIT_MS = 15_000;
    const orderId = await placed('MANUAL');
    const res = await env.app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token)).send({});
    expect(res.status).toBe(200);
    expect(res.headers['x-consistency']).toBe('consistent');
    expect(res.body.data.consistency).toBe('consistent');
  });
});

import { loadConfig } from '../../src/infra/config/config';
import { bearer, givenUser, type TestUser } from '../support/apiHarness';
import { eventTypes, orderState, placeOrder, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

const RESULT_URL = 'https://shop.example.test/checkout/result?from=paypal';

let env: PaymentsApp;
let redirecting: PaymentsApp;
let alice: TestUser;

beforeAll(async () => {
  [env, redirecting] = await Promise.all([startPaymentsApp({ PAYPAL_RETURN_RATE_LIMIT_MAX: '1000' }), startPaymentsApp({ PAYMENT_RESULT_URL: RESULT_URL })]);
  alice = await givenUser(env.app);
});

afterAll(async () => {
  await Promise.all([env?.stop(), redirecting?.stop()]);
});

/** A PAYPAL order of alice and the token PayPal appends when it sends the buyer back. */
async function givenPayPalOrder(on: PaymentsApp = env, buyer: TestUser = alice): Promise<{ orderId: string; token: string }> {
  const placed = await placeOrder(on.app, buyer, 'PAYPAL', { unitAmount: 3499 });
  expect(placed.status).toBe(201);
  const token = new URL(placed.body.data!.paymentUrl!).searchParams.get('token')!;
  expect(token).toBe((await orderState(on.app, placed.orderId)).paymentReference);
  return { orderId: placed.orderId, token };
}

const captureCalls = (on: PaymentsApp, token: string): number => on.paypal.requestsTo('POST', new RegExp(`^/v2/checkout/orders/${token}/capture$`)).length;

describe('PayPal sends the buyer back to GET /payments/paypal/return', () => {
  it('when the buyer approved and comes back with the token (no bearer token), then the payment is captured and the order is PAID', async () => {
    const { orderId, token } = await givenPayPalOrder();
    env.paypal.approve(token);

    const res = await env.app.request.get('/payments/paypal/return').query({ token, PayerID: 'QYR5Z8XDVJNXQ' }).set('Accept', 'application/json');

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', data: { orderId, outcome: 'paid', orderStatus: 'PAID' } });
    expect((await orderState(env.app, orderId)).status).toBe('PAID');
    expect(captureCalls(env, token)).toBe(1);
  });

  it('when the buyer comes back twice (reload), then the second return answers paid again and captures nothing more', async () => {
    const { orderId, token } = await givenPayPalOrder();
    env.paypal.approve(token);
    const first = await env.app.request.get('/payments/paypal/return').query({ token }).set('Accept', 'application/json');
    const eventsAfterFirst = await eventTypes(env.app, orderId);

    const second = await env.app.request.get('/payments/paypal/return').query({ token }).set('Accept', 'application/json');

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body).toEqual({ status: 'success', data: { orderId, outcome: 'paid', orderStatus: 'PAID' } });
    expect(await eventTypes(env.app, orderId)).toEqual(eventsAfterFirst);
    expect(captureCalls(env, token)).toBe(1);
  });

  it('when a browser comes back (Accept: text/html), then it gets a small page naming the outcome and the order', async () => {
    const { orderId, token } = await givenPayPalOrder();
    env.paypal.approve(token);

    const res = await env.app.request.get('/payments/paypal/return').query({ token }).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<h1>Payment received</h1>');
    expect(res.text).toContain(`Order ${orderId}: PAID.`);
  });

  it('when the buyer comes back without having approved, then nothing is paid: outcome declined, the order still awaits payment', async () => {
    const { orderId, token } = await givenPayPalOrder();

    const res = await env.app.request.get('/payments/paypal/return').query({ token }).set('Accept', 'application/json');

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ orderId, outcome: 'declined', orderStatus: 'PENDING' });
    expect((await orderState(env.app, orderId)).status).toBe('PENDING');
  });

  it('when the token is one PayPal does not know, then 404 PAYPAL_TOKEN_UNKNOWN as JSON, or as a page for a browser', async () => {
    const json = await env.app.request.get('/payments/paypal/return').query({ token: '5O190127TN364715T' }).set('Accept', 'application/json');
    const html = await env.app.request.get('/payments/paypal/return').query({ token: '5O190127TN364715T' }).set('Accept', 'text/html');
    const malformed = await env.app.request.get('/payments/paypal/return').query({ token: '../../v1/oauth2' }).set('Accept', 'application/json');

    expect(json.status).toBe(404);
    expect(json.body.error.code).toBe('PAYPAL_TOKEN_UNKNOWN');
    expect(html.status).toBe(404);
    expect(html.text).toContain('No order of this shop is paid with this PayPal token');
    expect(malformed.status).toBe(404);
    expect(malformed.body.error.code).toBe('PAYPAL_TOKEN_UNKNOWN');
  });

  it('when the token belongs to an earlier payment attempt of the order, then 409 PAYPAL_TOKEN_STALE and nothing is captured', async () => {
    const { orderId, token } = await givenPayPalOrder();
    // A newer attempt replaces the reference: the first PayPal order is voided at PayPal, so pay again makes a new one.
    env.paypal.orders.get(token)!.status = 'VOIDED';
    const again = await env.app.request.post(`/orders/${orderId}/pay`).set(bearer(alice.token));
    expect(again.status).toBe(200);
    expect((await orderState(env.app, orderId)).paymentReference).not.toBe(token);
    env.paypal.approve(token);

    const res = await env.app.request.get('/payments/paypal/return').query({ token }).set('Accept', 'application/json');

    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PAYPAL_TOKEN_STALE');
    expect(captureCalls(env, token)).toBe(0);
  });
});

describe('PayPal sends the buyer to GET /payments/paypal/cancel', () => {
  it('when the buyer cancelled at PayPal, then outcome cancelled and the order still awaits payment, unchanged', async () => {
    const { orderId, token } = await givenPayPalOrder();

    const res = await env.app.request.get('/payments/paypal/cancel').query({ token }).set('Accept', 'application/json');

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', data: { orderId, outcome: 'cancelled', orderStatus: 'PENDING' } });
    expect(await eventTypes(env.app, orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
  });

  it('when the token is unknown, then 404 PAYPAL_TOKEN_UNKNOWN', async () => {
    const res = await env.app.request.get('/payments/paypal/cancel').query({ token: 'UNKNOWN0TOKEN00' }).set('Accept', 'application/json');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('PAYPAL_TOKEN_UNKNOWN');
  });
});

describe('with PAYMENT_RESULT_URL set', () => {
  it('when the buyer returns or cancels, then 303 to the front-end URL with orderId and outcome (its own query kept)', async () => {
    const bob = await givenUser(redirecting.app);
    const paid = await givenPayPalOrder(redirecting, bob);
    redirecting.paypal.approve(paid.token);
    const cancelled = await givenPayPalOrder(redirecting, bob);

    const back = await redirecting.app.request.get('/payments/paypal/return').query({ token: paid.token });
    const gone = await redirecting.app.request.get('/payments/paypal/cancel').query({ token: cancelled.token });

    expect(back.status).toBe(303);
    expect(back.headers.location).toBe(`${RESULT_URL}&orderId=${paid.orderId}&outcome=paid`);
    expect((await orderState(redirecting.app, paid.orderId)).status).toBe('PAID');
    expect(gone.status).toBe(303);
    expect(gone.headers.location).toBe(`${RESULT_URL}&orderId=${cancelled.orderId}&outcome=cancelled`);
  });
});

describe('the PayPal order the API creates', () => {
  it('when nothing is configured, then PayPal is told to send the buyer to these routes, not to a 404', () => {
    const config = loadConfig({ ENV_FILE: 'none' });
    expect(config.PAYMENT_RETURN_URL).toBe('http://localhost:3000/payments/paypal/return');
    expect(config.PAYMENT_CANCEL_URL).toBe('http://localhost:3000/payments/paypal/cancel');
  });

  it('when an order is placed, then its return and cancel URLs reach PayPal', async () => {
    const { orderId } = await givenPayPalOrder();
    const create = env.paypal.requestsTo('POST', /^\/v2\/checkout\/orders$/).find((r) => r.body.includes(orderId))!;
    expect(create.body).toContain('/payments/paypal/return');
    expect(create.body).toContain('/payments/paypal/cancel');
  });
});

describe('the rate limit', () => {
  it('when one address returns more often than PAYPAL_RETURN_RATE_LIMIT_MAX allows, then 429 RATE_LIMITED and PayPal is not asked', async () => {
    const limited = await startPaymentsApp({ PAYPAL_RETURN_RATE_LIMIT_MAX: '2' });
    try {
      const lookups = () => limited.paypal.requestsTo('GET', /^\/v2\/checkout\/orders\//).length;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await limited.app.request.get('/payments/paypal/cancel').query({ token: 'UNKNOWN0TOKEN00' }).set('Accept', 'application/json')).status);
      expect(statuses).toEqual([404, 404, 429]);
      expect(lookups()).toBe(2);
    } finally {
      await limited.stop();
    }
  });
});

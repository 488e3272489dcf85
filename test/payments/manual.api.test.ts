import { randomUUID } from 'node:crypto';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';
import { eventTypes, orderState, placeOrder } from '../support/paymentsHarness';

// An app with no provider keys at all: MANUAL must work, the providers must say what is missing.
let app: TestApp;
let alice: TestUser;
let admin: TestUser;

beforeAll(async () => {
  app = await startTestApp({ ROLES: 'api,projector,worker' });
  [alice, admin] = await Promise.all([givenUser(app), givenAdmin(app)]);
});

afterAll(async () => {
  await app?.stop();
});

const orderCount = async (user: TestUser) => ((await app.request.get('/orders').set(bearer(user.token))).body as { meta: { total: number } }).meta.total;

describe('providers without keys', () => {
  it('when a STRIPE order is placed without Stripe keys, then 503 names both variables and no order is stored', async () => {
    const user = await givenUser(app);
    const res = await placeOrder(app, user, 'STRIPE');

    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_NOT_CONFIGURED', details: { provider: 'STRIPE', missing: ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] } });
    expect(res.body.error!.message).toBe('Stripe payments are not configured: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET');
    expect(await orderCount(user)).toBe(0);
  });

  it('when a PAYPAL order is placed without PayPal keys, then 503 names the variables and no order is stored', async () => {
    const user = await givenUser(app);
    const res = await placeOrder(app, user, 'PAYPAL');
    expect(res.status).toBe(503);
    expect(res.body.error!.message).toMatch(/PAYPAL_CLIENT_ID and PAYPAL_CLIENT_SECRET/);
    expect(await orderCount(user)).toBe(0);
  });

  it('when a keyed STRIPE request is refused for missing keys, then the key is not used up', async () => {
    const user = await givenUser(app);
    const product = await givenProduct(app);
    const key = randomUUID();
    const send = (paymentMethod: string) =>
      app.request
        .post('/orders')
        .set(bearer(user.token))
        .set('Idempotency-Key', key)
        .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod });
    expect((await send('STRIPE')).status).toBe(503);
    expect((await send('MANUAL')).status).toBe(201);
  });

  it('when a webhook arrives for an unconfigured provider, then 503 names the variable', async () => {
    const stripe = await app.request.post('/payments/webhook/stripe').set('Stripe-Signature', 't=1,v1=x').send('{}');
    expect(stripe.status).toBe(503);
    expect(stripe.body.error.message).toMatch(/STRIPE_WEBHOOK_SECRET/);
    const paypal = await app.request.post('/payments/webhook/paypal').send('{}');
    expect(paypal.status).toBe(503);
    expect(paypal.body.error.message).toMatch(/PAYPAL_WEBHOOK_ID/);
  });

  it('when the OpenAPI document is read, then the payment routes and both webhooks are in it', async () => {
    const doc = (await app.request.get('/api-docs.json')).body as { paths: Record<string, unknown> };
    for (const path of [
      '/orders/{id}/pay',
      '/orders/{id}/refund',
      '/orders/{id}/refund/confirm',
      '/payments/paypal/capture',
      '/payments/webhook/stripe',
      '/payments/webhook/paypal',
    ]) {
      expect(doc.paths[path]).toBeDefined();
    }
  });
});

describe('MANUAL payments and refunds', () => {
  async function givenPaidManualOrder() {
    const placed = await placeOrder(app, alice, 'MANUAL', { unitAmount: 1500, quantity: 2 });
    expect(placed.status).toBe(201);
    expect(placed.body.data).not.toHaveProperty('clientSecret');
    expect(placed.body.data).not.toHaveProperty('paymentUrl');
    expect((await app.request.post(`/orders/${placed.orderId}/mark-paid`).set(bearer(admin.token))).status).toBe(200);
    return placed.orderId;
  }

  it('when an admin refunds a MANUAL order, then it awaits confirmation, and the confirmation makes it REFUNDED', async () => {
    const orderId = await givenPaidManualOrder();
    const refund = await app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({ reason: 'returned' });
    expect(refund.status).toBe(200);
    expect(refund.body.data.refund).toEqual({ status: 'awaiting_confirmation' });
    expect(refund.body.data.order).toMatchObject({ status: 'PAID', paymentStatus: 'REFUND_PENDING' });

    const confirm = await app.request.post(`/orders/${orderId}/refund/confirm`).set(bearer(admin.token));
    expect(confirm.status).toBe(200);
    expect(confirm.body.data.order).toMatchObject({ status: 'REFUNDED', refundedAmount: 3000 });
    const again = await app.request.post(`/orders/${orderId}/refund/confirm`).set(bearer(admin.token));
    expect(again.status).toBe(200);
    expect((await eventTypes(app, orderId)).filter((t) => t === 'OrderRefunded')).toHaveLength(1);
  });

  it('when a refund is confirmed that was never requested, then 409 REFUND_NOT_REQUESTED', async () => {
    const orderId = await givenPaidManualOrder();
    const res = await app.request.post(`/orders/${orderId}/refund/confirm`).set(bearer(admin.token));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('REFUND_NOT_REQUESTED');
  });

  it('when an admin cancels a paid MANUAL order, then a refund awaits confirmation and confirming it refunds the order', async () => {
    const orderId = await givenPaidManualOrder();
    expect((await app.request.post(`/orders/${orderId}/cancel`).set(bearer(admin.token)).send({})).status).toBe(200);
    expect(await orderState(app, orderId)).toMatchObject({ status: 'CANCELLED', refundRequested: true });
    const confirm = await app.request.post(`/orders/${orderId}/refund/confirm`).set(bearer(admin.token));
    expect(confirm.body.data.order.status).toBe('REFUNDED');
  });

  it('when a user tries to confirm a refund, then 403', async () => {
    const orderId = await givenPaidManualOrder();
    expect((await app.request.post(`/orders/${orderId}/refund/confirm`).set(bearer(alice.token))).status).toBe(403);
  });

  it('when MANUAL is asked to pay online, then 409 says it is paid offline', async () => {
    const placed = await placeOrder(app, alice, 'MANUAL');
    const res = await app.request.post(`/orders/${placed.orderId}/pay`).set(bearer(alice.token));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('PAYMENT_NOT_ONLINE');
  });
});

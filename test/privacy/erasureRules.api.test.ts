import { createCredentialVerifier } from '../../src/commands/accounts/users';
import { eventually } from '../support/paymentsHarness';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let app: TestApp;
let admin: TestUser;

beforeAll(async () => {
  app = await startTestApp();
  admin = await givenAdmin(app);
}, 30_000);

afterAll(async () => {
  await app?.stop();
});

const address = { name: 'Alan Turing', line1: '2 Bletchley Park', city: 'Milton Keynes', postalCode: 'MK3 6EB', country: 'GB' };

async function placeWithAddress(user: TestUser): Promise<string> {
  const product = await givenProduct(app);
  const res = await app.request
    .post('/orders')
    .set(bearer(user.token))
    .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address });
  expect(res.status).toBe(201);
  return res.body.data.order.id as string;
}

const command = (path: string, body: object = {}) => app.request.post(path).set(bearer(admin.token)).send(body);

describe('shipping address on POST /orders', () => {
  it('when the address has an unknown country or a field is missing, then 400 names the field and nothing is stored', async () => {
    const hal = await givenUser(app);
    const product = await givenProduct(app);
    const send = (shippingAddress: object) =>
      app.request
        .post('/orders')
        .set(bearer(hal.token))
        .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress });
    const badCountry = await send({ ...address, country: 'XX' });
    expect(badCountry.status).toBe(400);
    expect(JSON.stringify(badCountry.body)).toMatch(/country must be an ISO 3166-1 alpha-2 code/);
    const { city: _city, ...noCity } = address;
    expect((await send(noCity)).status).toBe(400);
    expect((await app.request.get('/orders').set(bearer(hal.token))).body.meta.total).toBe(0);
  });
});

describe('erasure and open orders', () => {
  it('when an order is being prepared, then erasure waits (409 naming it) and succeeds once the order is delivered', async () => {
    const erin = await givenUser(app);
    const orderId = await placeWithAddress(erin);
    expect((await command(`/orders/${orderId}/mark-paid`)).status).toBe(200);
    expect((await app.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status: 'PROCESSING' })).status).toBe(200);

    const refused = await app.request.delete(`/users/${erin.id}`).set(bearer(admin.token));
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'ERASURE_WAITS_FOR_FULFILMENT', details: { orderIds: [orderId] } });
    expect((await app.request.get(`/orders/${orderId}`).set(bearer(erin.token))).body.data.shippingAddress).toMatchObject(address);

    for (const status of ['SHIPPED', 'DELIVERED']) {
      expect((await app.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status })).status).toBe(200);
    }
    const erased = await app.request.delete(`/users/${erin.id}`).set(bearer(admin.token));
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ cancelledOrderIds: [], erasedOrderIds: [orderId] });
  });

  it('when a paid order is open, then erasure cancels it and a refund is requested under the normal rules', async () => {
    const frank = await givenUser(app);
    const orderId = await placeWithAddress(frank);
    expect((await command(`/orders/${orderId}/mark-paid`)).status).toBe(200);
    const erased = await app.request.delete(`/users/${frank.id}`).set(bearer(admin.token));
    expect(erased.status).toBe(200);
    expect(erased.body.cancelledOrderIds).toEqual([orderId]);
    // The read model applies CustomerDataErased asynchronously, after the command answered.
    const types = await eventually(
      async () => ((await app.request.get(`/orders/${orderId}/history`).set(bearer(admin.token))).body.data as { eventType: string }[]).map((h) => h.eventType),
      (seen) => seen.includes('CustomerDataErased'),
    );
    expect(types).toEqual(['OrderPlaced', 'PaymentSucceeded', 'OrderCancelled', 'RefundRequested', 'CustomerDataErased']);
  });

  it('when an erased customer is erased again, then nothing changes; a customer cannot erase another', async () => {
    const gina = await givenUser(app);
    const other = await givenUser(app);
    expect((await app.request.delete(`/users/${gina.id}`).set(bearer(other.token))).status).toBe(403);
    expect((await app.request.delete(`/users/${gina.id}`).set(bearer(admin.token))).status).toBe(200);
    const again = await app.request.delete(`/users/${gina.id}`).set(bearer(admin.token));
    expect(again.status).toBe(200);
    // The credential check itself (the login route adds only a Redis-backed rate limit).
    const verify = createCredentialVerifier(app.runtime.deps.knex, { bcryptRounds: 4 });
    await expect(verify(gina.email, gina.password)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(await app.runtime.deps.knex('users').where('id', gina.id).first('email')).toEqual({ email: `erased-${gina.id}@erased.invalid` });
  });
});

import { bearer, givenAdmin, givenProduct, registerAndLogin, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

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
  const res = await app.request.post('/orders').set(bearer(user.token)).send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address });
  expect(res.status).toBe(201);
  return res.body.data.order.id as string;
}

const command = (path: string, body: object = {}) => app.request.post(path).set(bearer(admin.token)).send(body);

describe('erasure and open orders', () => {
  it('when an order is being prepared, then erasure waits (409 naming it) and succeeds once the order is delivered', async () => {
    const erin = await registerAndLogin(app);
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
    const frank = await registerAndLogin(app);
    const orderId = await placeWithAddress(frank);
    expect((await command(`/orders/${orderId}/mark-paid`)).status).toBe(200);
    const erased = await app.request.delete(`/users/${frank.id}`).set(bearer(admin.token));
    expect(erased.status).toBe(200);
    expect(erased.body.cancelledOrderIds).toEqual([orderId]);
    const history = await app.request.get(`/orders/${orderId}/history?minPosition=0`).set(bearer(admin.token));
    expect(history.body.data.map((h: { eventType: string }) => h.eventType)).toEqual(
      expect.arrayContaining(['OrderCancelled', 'RefundRequested', 'CustomerDataErased']),
    );
  });

  it('when an erased customer is erased again, then nothing changes; a customer cannot erase another', async () => {
    const gina = await registerAndLogin(app);
    const other = await registerAndLogin(app);
    expect((await app.request.delete(`/users/${gina.id}`).set(bearer(other.token))).status).toBe(403);
    expect((await app.request.delete(`/users/${gina.id}`).set(bearer(admin.token))).status).toBe(200);
    const again = await app.request.delete(`/users/${gina.id}`).set(bearer(admin.token));
    expect(again.status).toBe(200);
    expect((await app.request.post('/auth/login').send({ email: gina.email, password: gina.password })).status).toBe(401);
  });
});

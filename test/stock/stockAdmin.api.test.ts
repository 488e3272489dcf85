import { randomUUID } from 'node:crypto';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let app: TestApp;
let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  app = await startTestApp();
  admin = await givenAdmin(app);
  user = await givenUser(app);
});
afterAll(async () => {
  await app.stop();
});

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

async function productAt(id: string, position: string): Promise<{ onHand: number | null; reserved: number | null; available: number | null }> {
  const res = await app.request.get(`/products/${id}`).set('X-Min-Position', position);
  expect(res.status).toBe(200);
  const { onHand, reserved, available } = res.body.data;
  return { onHand, reserved, available };
}

describe('stock administration', () => {
  it('given a new product, when nobody touched its stock, then it is untracked: onHand, reserved and available are null', async () => {
    const product = await givenProduct(app);
    const res = await app.request.get(`/products/${product.id}`);
    expect(res.body.data).toMatchObject({ onHand: null, reserved: null, available: null });
    const list = await app.request.get('/products').query({ limit: 100 });
    expect(list.body.data.find((p: { id: string }) => p.id === product.id)).toMatchObject({ onHand: null, available: null });
  });

  it('when an admin receives 12 then adjusts by -2, then both answers and GET /products show the stock', async () => {
    const product = await givenProduct(app);
    const received = await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity: 12 });
    expect(received.status).toBe(200);
    expect(received.body.data).toMatchObject({ productId: product.id, onHand: 12, reserved: 0, available: 12 });

    const adjusted = await app.request.post(`/products/${product.id}/stock/adjust`).set(bearer(admin.token)).send({ delta: -2, reason: 'two broken in the warehouse' });
    expect(adjusted.status).toBe(200);
    expect(adjusted.body.data).toMatchObject({ onHand: 10, reserved: 0, available: 10 });

    expect(await productAt(product.id, adjusted.body.data.position)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    const list = await app.request.get('/products').query({ limit: 100, minPosition: adjusted.body.data.position });
    expect(list.body.data.find((p: { id: string }) => p.id === product.id)).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  });

  it('when an adjustment would make on hand negative, then 409 STOCK_ADJUSTMENT_REFUSED and nothing changes', async () => {
    const product = await givenProduct(app);
    const received = await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity: 3 });
    const res = await app.request.post(`/products/${product.id}/stock/adjust`).set(bearer(admin.token)).send({ delta: -4, reason: 'count' });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('STOCK_ADJUSTMENT_REFUSED');
    expect(await productAt(product.id, received.body.data.position)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    const events = await app.runtime.deps.store.readStream(`stock-${product.id}`);
    expect(events.map((e) => e.type)).toEqual(['StockTrackingStarted', 'StockReceived']);
  });

  it.each([
    ['receive', { quantity: 0 }],
    ['receive', { quantity: 1.5 }],
    ['receive', { quantity: '3' }],
    ['receive', { quantity: 3, extra: true }],
    ['adjust', { delta: 0, reason: 'count' }],
    ['adjust', { delta: 2 }],
    ['adjust', { delta: 2, reason: 'line\nbreak' }],
  ])('when %s gets %j, then 400 VALIDATION_FAILED', async (action, body) => {
    const product = await givenProduct(app);
    const res = await app.request.post(`/products/${product.id}/stock/${action}`).set(bearer(admin.token)).send(body);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when the product does not exist, then 404 PRODUCT_NOT_FOUND and no stream is created', async () => {
    const id = randomUUID();
    const res = await app.request.post(`/products/${id}/stock/receive`).set(bearer(admin.token)).send({ quantity: 1 });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('PRODUCT_NOT_FOUND');
    expect(await app.runtime.deps.store.readStream(`stock-${id}`)).toEqual([]);
  });

  it('when a user or nobody receives stock, then 403 or 401', async () => {
    const product = await givenProduct(app);
    expect((await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(user.token)).send({ quantity: 1 })).status).toBe(403);
    expect((await app.request.post(`/products/${product.id}/stock/receive`).send({ quantity: 1 })).status).toBe(401);
  });
});

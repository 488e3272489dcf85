import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

/**
 * Partial refunds and returns against tracked stock: a line refund before shipping puts only its
 * lines' units back, an amount-only refund none, a full refund afterwards only the rest; a received
 * return puts its non-damaged tracked units back, in the same append as ReturnReceived.
 */

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

interface Answer {
  status: number;
  body: { data: Record<string, unknown> & { position: string } };
}

async function trackedProduct(quantity: number): Promise<string> {
  const product = await givenProduct(app);
  const res = await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity });
  expect(res.status).toBe(200);
  return product.id;
}

async function onHand(productId: string, position: string): Promise<number> {
  const res = await app.request.get(`/products/${productId}`).set({ 'X-Min-Position': position });
  return (res.body as { data: { onHand: number } }).data.onHand;
}

const stockEvents = async (productId: string): Promise<Array<{ type: string; quantity: unknown }>> =>
  (await app.runtime.deps.store.readStream(`stock-${productId}`)).map((e) => ({ type: e.type, quantity: (e.data as { quantity?: unknown }).quantity }));

async function asAdmin(path: string, body: object = {}, method: 'post' | 'patch' = 'post'): Promise<Answer> {
  const res = (await app.request[method](path).set(bearer(admin.token)).send(body)) as unknown as Answer;
  expect({ path, status: res.status }).toEqual({ path, status: 200 });
  return res;
}

async function paidOrder(items: { productId: string; quantity: number }[]): Promise<string> {
  const placed = await app.request.post('/orders').set(bearer(user.token)).send({ items, paymentMethod: 'MANUAL' });
  expect(placed.status).toBe(201);
  const orderId = (placed.body as { data: { order: { id: string } } }).data.order.id;
  await asAdmin(`/orders/${orderId}/mark-paid`);
  return orderId;
}

const refundIdOf = (res: Answer): string => (res.body.data.refund as { refundId: string }).refundId;

describe('partial refunds and stock', () => {
  it('when lines are refunded before shipping, then only their units come back; an amount none; the full refund after them the rest', async () => {
    const a = await trackedProduct(5);
    const b = await trackedProduct(5);
    const untracked = (await givenProduct(app)).id;
    const orderId = await paidOrder([
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
      { productId: untracked, quantity: 1 },
    ]);

    const line = await asAdmin(`/orders/${orderId}/refunds`, { lines: [{ productId: a, quantity: 1 }], reason: 'one arrived dented' });
    expect(await onHand(a, line.body.data.position)).toBe(3);
    expect(await onHand(b, line.body.data.position)).toBe(3);
    await asAdmin(`/orders/${orderId}/refund/confirm`, { refundId: refundIdOf(line) });

    const amount = await asAdmin(`/orders/${orderId}/refunds`, { amount: 50, reason: 'late delivery' });
    await asAdmin(`/orders/${orderId}/refund/confirm`, { refundId: refundIdOf(amount) });
    expect(await stockEvents(a)).toEqual([
      { type: 'StockTrackingStarted', quantity: undefined },
      { type: 'StockReceived', quantity: 5 },
      { type: 'StockReserved', quantity: 3 },
      { type: 'StockCommitted', quantity: 3 },
      { type: 'StockReturned', quantity: 1 },
    ]);
    expect((await stockEvents(b)).map((e) => e.type)).not.toContain('StockReturned');

    const full = await asAdmin(`/orders/${orderId}/refund`, { reason: 'cancelled by the shop' });
    expect((await stockEvents(a)).slice(4)).toEqual([
      { type: 'StockReturned', quantity: 1 },
      { type: 'StockReturned', quantity: 2 },
    ]);
    expect((await stockEvents(b)).at(-1)).toEqual({ type: 'StockReturned', quantity: 2 });
    expect(await onHand(a, full.body.data.position)).toBe(5);
    expect(await onHand(b, full.body.data.position)).toBe(5);
    expect(await stockEvents(untracked)).toEqual([]);
  });

  it('when a line is refunded after shipping, then the units stay gone (they are with the buyer)', async () => {
    const a = await trackedProduct(4);
    const orderId = await paidOrder([{ productId: a, quantity: 2 }]);
    for (const status of ['PROCESSING', 'SHIPPED']) await asAdmin(`/orders/${orderId}/status`, { status }, 'patch');
    const line = await asAdmin(`/orders/${orderId}/refunds`, { lines: [{ productId: a, quantity: 1 }], reason: 'broken in transit' });
    expect(await onHand(a, line.body.data.position)).toBe(2);
    expect((await stockEvents(a)).map((e) => e.type)).not.toContain('StockReturned');
  });
});

describe('returns and stock', () => {
  it('when a return is received, then its tracked, undamaged units are back on hand in the same append; damaged and untracked ones are not', async () => {
    const kept = await trackedProduct(5);
    const damaged = await trackedProduct(5);
    const untracked = (await givenProduct(app)).id;
    const orderId = await paidOrder([
      { productId: kept, quantity: 2 },
      { productId: damaged, quantity: 1 },
      { productId: untracked, quantity: 1 },
    ]);
    for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) await asAdmin(`/orders/${orderId}/status`, { status }, 'patch');
    const requested = await app.request
      .post(`/orders/${orderId}/returns`)
      .set(bearer(user.token))
      .send({
        lines: [
          { productId: kept, quantity: 2 },
          { productId: damaged, quantity: 1 },
          { productId: untracked, quantity: 1 },
        ],
        reason: 'not what I expected',
      });
    expect(requested.status).toBe(200);
    const returnId = (requested.body as { data: { returnId: string } }).data.returnId;
    const approved = await asAdmin(`/orders/${orderId}/returns/${returnId}/approve`);
    expect(await onHand(kept, approved.body.data.position)).toBe(3);

    const received = await asAdmin(`/orders/${orderId}/returns/${returnId}/receive`, { damaged: [damaged] });
    expect(await onHand(kept, received.body.data.position)).toBe(5);
    expect(await onHand(damaged, received.body.data.position)).toBe(4);
    expect((await stockEvents(kept)).at(-1)).toEqual({ type: 'StockReturned', quantity: 2 });
    expect((await stockEvents(damaged)).map((e) => e.type)).not.toContain('StockReturned');
    expect(await stockEvents(untracked)).toEqual([]);

    // One append: StockReturned sits among the order events the receipt appended, nothing in between from elsewhere.
    const store = app.runtime.deps.store;
    const receivedEvent = (await store.readStream(`order-${orderId}`)).find((e) => e.type === 'ReturnReceived')!;
    const restock = (await store.readStream(`stock-${kept}`)).at(-1)!;
    const between = await store.readAll({ after: receivedEvent.position, limit: 10 });
    const upToRestock = between.slice(0, between.findIndex((e) => e.id === restock.id) + 1);
    expect(upToRestock.length).toBeGreaterThan(0);
    expect(upToRestock.every((e) => e.streamId === `order-${orderId}` || e.id === restock.id)).toBe(true);
  });
});

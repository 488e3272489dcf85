import { randomUUID } from 'node:crypto';
import { placeOrder } from '../../src/commands/placeOrder';
import { evolveStock, initialStockState } from '../../src/commands/stock/stockDecider';
import { loadStock, readStockEvents } from '../../src/commands/stock/stockStream';
import { encodeStockEvent } from '../../src/events/stockCodec';
import { ProductLocks } from '../../src/commands/stock/productLocks';
import type { EventStore } from '../../src/infra/eventstore/eventStore';
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

const errorOf = (res: { body: unknown }): { code?: string; details?: unknown } => (res.body as { error?: { code?: string; details?: unknown } }).error ?? {};

async function trackedProduct(quantity: number): Promise<string> {
  const product = await givenProduct(app);
  const res = await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity });
  expect(res.status).toBe(200);
  return product.id;
}

async function stockOf(productId: string, position?: string): Promise<{ onHand: number; reserved: number; available: number }> {
  const res = await app.request.get(`/products/${productId}`).set(position ? { 'X-Min-Position': position } : {});
  const { onHand, reserved, available } = res.body.data;
  return { onHand, reserved, available };
}

const stockTypes = async (productId: string): Promise<string[]> => (await app.runtime.deps.store.readStream(`stock-${productId}`)).map((e) => e.type);

async function place(items: { productId: string; quantity: number }[]) {
  return app.request.post('/orders').set(bearer(user.token)).send({ items, paymentMethod: 'MANUAL' });
}

describe('orders against tracked stock', () => {
  it('when an order takes tracked and untracked lines, then the tracked ones are reserved with OrderPlaced in one append', async () => {
    const tracked = await trackedProduct(5);
    const untracked = (await givenProduct(app)).id;
    const res = await place([
      { productId: tracked, quantity: 2 },
      { productId: untracked, quantity: 50 },
    ]);
    expect(res.status).toBe(201);
    const orderId = res.body.data.order.id as string;
    const [placed] = await app.runtime.deps.store.readStream(`order-${orderId}`);
    const reservedEvent = (await app.runtime.deps.store.readStream(`stock-${tracked}`)).at(-1)!;
    expect(reservedEvent).toMatchObject({ type: 'StockReserved', data: { orderId, quantity: 2 } });
    // One append: the reservation directly follows OrderPlaced in $all.
    const next = await app.runtime.deps.store.readAll({ after: placed!.position, limit: 1 });
    expect(next[0]!.id).toBe(reservedEvent.id);
    expect(await stockOf(tracked, res.body.data.position)).toEqual({ onHand: 5, reserved: 2, available: 3 });
    expect(await stockTypes(untracked)).toEqual([]);
  });

  it('when two lines are short, then 409 OUT_OF_STOCK names each with what is available, and nothing is appended', async () => {
    const a = await trackedProduct(1);
    const b = await trackedProduct(2);
    const c = await trackedProduct(10);
    // Every committed event, not just those below the readers' safe boundary: the stock just
    // received for c can be held back there while the projector's own transaction is in flight.
    const last = await app.runtime.deps.store.lastPosition();
    const res = await place([
      { productId: a, quantity: 3 },
      { productId: b, quantity: 3 },
      { productId: c, quantity: 1 },
    ]);
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('OUT_OF_STOCK');
    expect(errorOf(res).details).toEqual({
      products: expect.arrayContaining([
        { productId: a, requested: 3, available: 1 },
        { productId: b, requested: 3, available: 2 },
      ]),
    });
    expect((errorOf(res).details as { products: unknown[] }).products).toHaveLength(2);
    expect(await app.runtime.deps.store.lastPosition()).toBe(last);
    expect(await stockTypes(c)).toEqual(['StockTrackingStarted', 'StockReceived']);
  });

  it('when the owner cancels, then the reservation is released in the same append as OrderCancelled', async () => {
    const product = await trackedProduct(4);
    const placed = await place([{ productId: product, quantity: 3 }]);
    const orderId = placed.body.data.order.id as string;
    const cancelled = await app.request.post(`/orders/${orderId}/cancel`).set(bearer(user.token)).send({ reason: 'changed my mind' });
    expect(cancelled.status).toBe(200);
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockReleased']);
    expect(await stockOf(product, cancelled.body.data.position)).toEqual({ onHand: 4, reserved: 0, available: 4 });
  });

  it('when the payment is confirmed, then the reservation is committed; a refund before shipping puts the units back', async () => {
    const product = await trackedProduct(4);
    const placed = await place([{ productId: product, quantity: 3 }]);
    const orderId = placed.body.data.order.id as string;
    const paid = await app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token)).send({});
    expect(paid.status).toBe(200);
    expect(await stockOf(product, paid.body.data.position)).toEqual({ onHand: 1, reserved: 0, available: 1 });

    const refunded = await app.request.post(`/orders/${orderId}/refund`).set(bearer(admin.token)).send({ reason: 'out of colour' });
    expect(refunded.status).toBe(200);
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockCommitted', 'StockReturned']);
    expect(await stockOf(product, refunded.body.data.position)).toEqual({ onHand: 4, reserved: 0, available: 4 });
  });

  it('when reserved units are adjusted away, then 409 STOCK_ADJUSTMENT_REFUSED', async () => {
    const product = await trackedProduct(4);
    expect((await place([{ productId: product, quantity: 3 }])).status).toBe(201);
    const res = await app.request.post(`/products/${product}/stock/adjust`).set(bearer(admin.token)).send({ delta: -2, reason: 'count' });
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('STOCK_ADJUSTMENT_REFUSED');
  });
});

describe("a product id's case", () => {
  it('when an admin receives stock naming the product in upper case, then orders naming it either way reserve from that stock', async () => {
    const product = await givenProduct(app);
    const received = await app.request.post(`/products/${product.id.toUpperCase()}/stock/receive`).set(bearer(admin.token)).send({ quantity: 2 });
    expect(received.status).toBe(200);
    expect(received.body.data).toMatchObject({ productId: product.id, onHand: 2, available: 2 });
    const tooMany = await place([{ productId: product.id, quantity: 3 }]);
    expect(tooMany.status).toBe(409);
    expect(errorOf(tooMany).code).toBe('OUT_OF_STOCK');
    const upper = await place([{ productId: product.id.toUpperCase(), quantity: 2 }]);
    expect(upper.status).toBe(201);
    expect(upper.body.data.order.items[0].productId).toBe(product.id);
    expect(await stockTypes(product.id)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved']);
    expect(await stockTypes(product.id.toUpperCase())).toEqual([]);
  });
});

describe('stock reads of a placement', () => {
  /** The runtime's store, counting reads per stream. */
  function countingStore(): { store: EventStore; reads: Map<string, number> } {
    const inner = app.runtime.deps.store;
    const reads = new Map<string, number>();
    const store: EventStore = Object.create(inner) as EventStore;
    store.readStream = (streamId, options) => {
      reads.set(streamId, (reads.get(streamId) ?? 0) + 1);
      return inner.readStream(streamId, options);
    };
    return { store, reads };
  }

  const placeWith = (store: EventStore, items: { productId: string; quantity: number }[]) =>
    placeOrder(
      { knex: app.runtime.deps.knex, store, logger: app.runtime.deps.logger, productLocks: new ProductLocks(), dataKeys: app.runtime.deps.dataKeys },
      {
        userId: user.id,
        items,
        paymentMethod: 'MANUAL',
        idempotencyKey: undefined,
        body: {},
        now: new Date().toISOString(),
        context: { actor: { type: 'user', id: user.id } },
      },
    );

  it('when an order takes an untracked and a tracked line, then the catalog read tells which is tracked and only the tracked stock stream is read, under its lock', async () => {
    const tracked = await trackedProduct(3);
    const untracked = (await givenProduct(app)).id;
    const { store, reads } = countingStore();
    const placed = await placeWith(store, [
      { productId: tracked, quantity: 1 },
      { productId: untracked, quantity: 1 },
    ]);
    expect(placed.state.status).toBe('PENDING');
    expect(app.runtime.deps.store.kind).toBe('postgres');
    expect(reads.get(`stock-${untracked}`)).toBeUndefined();
    expect(reads.get(`stock-${tracked}`)).toBe(1);
    expect((await app.runtime.deps.store.readStream(`stock-${tracked}`)).at(-1)).toMatchObject({ type: 'StockReserved', data: { orderId: placed.orderId, quantity: 1 } });
  });

  it('when a tracked product has a long sales history, then a placement reads the stock snapshot and only the events after it', async () => {
    const tracked = await trackedProduct(1_000_000);
    const streamId = `stock-${tracked}`;
    const history = Array.from({ length: 1_500 }, (_, i) => {
      const orderId = randomUUID();
      const reservedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
      return [
        encodeStockEvent({ type: 'StockReserved', data: { productId: tracked, orderId, quantity: 2, reservedAt } }, randomUUID()),
        encodeStockEvent({ type: 'StockCommitted', data: { productId: tracked, orderId, quantity: 2, committedAt: reservedAt } }, randomUUID()),
      ];
    }).flat();
    for (let from = 0; from < history.length; from += 500) {
      await app.runtime.deps.store.appendToStream(streamId, history.slice(from, from + 500), { expectedRevision: BigInt(from + 1) });
    }
    const eventsRead = (): { store: EventStore; count: () => number } => {
      const inner = app.runtime.deps.store;
      let count = 0;
      const store: EventStore = Object.create(inner) as EventStore;
      store.readStream = async (id, options) => {
        const events = await inner.readStream(id, options);
        if (id === streamId) count += events.length;
        return events;
      };
      return { store, count: () => count };
    };

    // The first placement after the history folds all 3,002 events and leaves a snapshot of them.
    const first = eventsRead();
    await placeWith(first.store, [{ productId: tracked, quantity: 1 }]);
    expect(first.count()).toBe(3_002);
    const second = eventsRead();
    const placed = await placeWith(second.store, [{ productId: tracked, quantity: 3 }]);
    // The snapshot's own last event (proof it still describes the stream), then the first placement's reservation.
    expect(second.count()).toBe(2);

    const stock = await loadStock(app.runtime.deps.store, tracked);
    expect(stock.snapshotRevision).toBe(3_001n);
    const folded = (await readStockEvents(app.runtime.deps.store, tracked)).reduce((state, stored) => evolveStock(state, stored.event), initialStockState);
    expect(stock.state).toEqual(folded);
    expect(folded).toMatchObject({ onHand: 1_000_000 - 3_000, reserved: 4 });
    expect(stock.state.tracked && stock.state.reservations[placed.orderId]).toEqual({ quantity: 3, status: 'RESERVED', returned: 0 });
  });
});

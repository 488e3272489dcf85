import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import type { ProductDto } from '../../src/queries/products';
import { bearer, givenAdmin, givenOrder, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let app: TestApp;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;
let mug: ProductDto;
let pen: ProductDto;

beforeAll(async () => {
  app = await startTestApp();
  [admin, alice, bob] = await Promise.all([givenAdmin(app), givenUser(app), givenUser(app)]);
  mug = await givenProduct(app, { name: 'Mug', unitAmount: 1999, currency: 'USD' });
  pen = await givenProduct(app, { name: 'Pen', unitAmount: 250, currency: 'USD' });
});
afterAll(async () => {
  await app.stop();
});

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

const markPaid = (orderId: string) => app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token));
const cancel = (orderId: string, token: string, body: object = {}) => app.request.post(`/orders/${orderId}/cancel`).set(bearer(token)).send(body);
const statusOf = async (orderId: string): Promise<string> =>
  ((await app.request.get(`/orders/${orderId}`).set(bearer(admin.token))).body as { data: { status: string } }).data.status;

describe('POST /orders', () => {
  it('when a user orders catalog products, then 201 prices them from the catalog and an immediate GET lists the order', async () => {
    const res = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({
        items: [
          { productId: mug.id, quantity: 2 },
          { productId: pen.id, quantity: 1 },
        ],
        paymentMethod: 'MANUAL',
        paymentFlow: 'REGULAR',
      });

    expect(res.status).toBe(201);
    const order = res.body.data.order;
    expect(res.body.status).toBe('success');
    expect(res.body.data.position).toMatch(/^\d+$/);
    expect(order).toMatchObject({ userId: alice.id, status: 'PENDING', totalAmount: 2 * 1999 + 250, currency: 'USD', paymentMethod: 'MANUAL', revision: 0 });
    expect(order.items).toEqual([
      { productId: mug.id, sku: mug.sku, name: 'Mug', quantity: 2, unitAmount: 1999, lineAmount: 3998 },
      { productId: pen.id, sku: pen.sku, name: 'Pen', quantity: 1, unitAmount: 250, lineAmount: 250 },
    ]);
    const list = await app.request.get('/orders?limit=100').set(bearer(alice.token));
    expect(list.body.data.map((o: { id: string }) => o.id)).toContain(order.id);
  });

  it('when the same product appears twice, then one line carries the summed quantity', async () => {
    const res = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({
        items: [
          { productId: pen.id, quantity: 1 },
          { productId: pen.id, quantity: 2 },
        ],
        paymentMethod: 'MANUAL',
      });
    expect(res.status).toBe(201);
    expect(res.body.data.order.items).toEqual([expect.objectContaining({ productId: pen.id, quantity: 3, lineAmount: 750 })]);
    expect(res.body.data.order.totalAmount).toBe(750);
  });

  it('when the catalog price changes after ordering, then the placed order keeps its price', async () => {
    const product = await givenProduct(app, { unitAmount: 1000 });
    const order = await givenOrder(app, alice, { items: [{ productId: product.id, quantity: 1 }] });
    expect((await app.request.patch(`/products/${product.id}`).set(bearer(admin.token)).send({ unitAmount: 5000 })).status).toBe(200);

    const fetched = await app.request.get(`/orders/${order.id}`).set(bearer(alice.token));
    expect(fetched.body.data.totalAmount).toBe(1000);
    expect(fetched.body.data.items[0].unitAmount).toBe(1000);
  });

  it.each([
    ['an unknown product', 'PRODUCT_NOT_FOUND', () => ({ items: [{ productId: randomUUID(), quantity: 1 }], paymentMethod: 'MANUAL' })],
    ['quantity 0', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 0 }], paymentMethod: 'MANUAL' })],
    ['a fractional quantity', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1.5 }], paymentMethod: 'MANUAL' })],
    ['empty items', 'VALIDATION_FAILED', () => ({ items: [], paymentMethod: 'MANUAL' })],
    ['no items', 'VALIDATION_FAILED', () => ({ paymentMethod: 'MANUAL' })],
    ['a product id that is not a uuid', 'VALIDATION_FAILED', () => ({ items: [{ productId: '42', quantity: 1 }], paymentMethod: 'MANUAL' })],
    ['an unknown payment method', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'BITCOIN' })],
    ['an unknown payment flow', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'MANUAL', paymentFlow: 'EXPRESS' })],
    ['a client-supplied price', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1, unitAmount: 1 }], paymentMethod: 'MANUAL' })],
    ['a client-supplied total', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'MANUAL', totalAmount: 1 })],
    ['another user id', 'VALIDATION_FAILED', () => ({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'MANUAL', userId: randomUUID() })],
  ])('when the body has %s, then 400 %s and no order is placed', async (_label, code, body) => {
    const before = await app.db.knex('events').count<{ count: string }[]>({ count: '*' });
    const res = await app.request.post('/orders').set(bearer(alice.token)).send(body());
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe(code);
    const after = await app.db.knex('events').count<{ count: string }[]>({ count: '*' });
    expect(after[0]!.count).toBe(before[0]!.count);
  });

  it('when an inactive product or products in two currencies are ordered, then 400', async () => {
    const retired = await givenProduct(app, { active: false });
    const euro = await givenProduct(app, { currency: 'EUR' });
    const inactive = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ productId: retired.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    const mixed = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({
        items: [
          { productId: mug.id, quantity: 1 },
          { productId: euro.id, quantity: 1 },
        ],
        paymentMethod: 'MANUAL',
      });
    expect(inactive.status).toBe(400);
    expect(errorCode(inactive)).toBe('PRODUCT_NOT_FOUND');
    expect(mixed.status).toBe(400);
    expect(errorCode(mixed)).toBe('MIXED_CURRENCIES');
  });

  it("when the seed's item shape { title, price, quantity } is sent, then 400 says an item is { productId, quantity } priced from GET /products", async () => {
    const res = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ title: 'Product A', price: 100, quantity: 1 }], paymentMethod: 'MANUAL', paymentFlow: 'REGULAR' });

    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'items.0',
          message: expect.stringContaining('an item is { productId, quantity } and the price comes from the catalog: take productId from GET /products'),
        }),
        expect.objectContaining({ path: 'items.0.productId' }),
      ]),
    );
    expect(res.body.error.message).toContain('GET /products');
    const other = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ productId: mug.id, quantity: 1, colour: 'red' }], paymentMethod: 'MANUAL' });
    expect(other.status).toBe(400);
    expect(other.body.error.message).toContain('Unrecognized key: "colour"');
    expect(other.body.error.message).not.toContain('GET /products');
  });

  it('when nobody is signed in, then 401', async () => {
    const res = await app.request.post('/orders').send({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    expect(res.status).toBe(401);
  });

  describe('Idempotency-Key', () => {
    const body = () => ({ items: [{ productId: mug.id, quantity: 1 }], paymentMethod: 'MANUAL' });

    it('when the same key and body are sent twice, then both answers carry the same order and only one exists', async () => {
      const user = await givenUser(app);
      const key = randomUUID();
      const first = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());
      const second = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());

      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body.data.order.id).toBe(first.body.data.order.id);
      const list = await app.request.get('/orders').set(bearer(user.token));
      expect(list.body.meta.total).toBe(1);
    });

    it('when the same key comes with another body, then 409 IDEMPOTENCY_KEY_REUSED and no second order', async () => {
      const user = await givenUser(app);
      const key = randomUUID();
      expect((await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body())).status).toBe(201);
      const res = await app.request
        .post('/orders')
        .set(bearer(user.token))
        .set('Idempotency-Key', key)
        .send({ items: [{ productId: mug.id, quantity: 2 }], paymentMethod: 'MANUAL' });

      expect(res.status).toBe(409);
      expect(errorCode(res)).toBe('IDEMPOTENCY_KEY_REUSED');
      expect((await app.request.get('/orders').set(bearer(user.token))).body.meta.total).toBe(1);
    });

    it("when another user sends the same key, then they get their own order, never the first user's", async () => {
      const [first, second] = await Promise.all([givenUser(app), givenUser(app)]);
      const key = randomUUID();
      const a = await app.request.post('/orders').set(bearer(first.token)).set('Idempotency-Key', key).send(body());
      const b = await app.request.post('/orders').set(bearer(second.token)).set('Idempotency-Key', key).send(body());
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(b.body.data.order.id).not.toBe(a.body.data.order.id);
      expect(b.body.data.order.userId).toBe(second.id);
    });

    it('when the same key and body arrive concurrently, then every answer carries one and the same order', async () => {
      const user = await givenUser(app);
      const key = randomUUID();
      const answers = await Promise.all(Array.from({ length: 5 }, () => app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body())));
      expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
      expect(new Set(answers.map((a) => a.body.data.order.id)).size).toBe(1);
      expect((await app.request.get('/orders').set(bearer(user.token))).body.meta.total).toBe(1);
    });

    it('when a keyed request is refused for an unknown product, then the same key with a corrected body places the order', async () => {
      const user = await givenUser(app);
      const key = randomUUID();
      const refused = await app.request
        .post('/orders')
        .set(bearer(user.token))
        .set('Idempotency-Key', key)
        .send({ items: [{ productId: randomUUID(), quantity: 1 }], paymentMethod: 'MANUAL' });
      expect(refused.status).toBe(400);

      const corrected = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());
      expect(corrected.status).toBe(201);
      const replay = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());
      expect(replay.body.data.order.id).toBe(corrected.body.data.order.id);
    });

    it.each([
      ['its total is over the amount limit', 'ORDER_INVALID', async () => [{ productId: (await givenProduct(app, { unitAmount: Number.MAX_SAFE_INTEGER })).id, quantity: 2 }]],
      [
        'it mixes currencies',
        'MIXED_CURRENCIES',
        async () => [
          { productId: mug.id, quantity: 1 },
          { productId: (await givenProduct(app, { currency: 'EUR' })).id, quantity: 1 },
        ],
      ],
      ['a product is no longer sold', 'PRODUCT_NOT_FOUND', async () => [{ productId: (await givenProduct(app, { active: false })).id, quantity: 1 }]],
    ])('when a keyed order is refused because %s (%s), then nothing is stored and the same key with a corrected body places the order', async (_why, code, items) => {
      const user = await givenUser(app);
      const key = randomUUID();
      const refused = await app.request
        .post('/orders')
        .set(bearer(user.token))
        .set('Idempotency-Key', key)
        .send({ items: await items(), paymentMethod: 'MANUAL' });
      expect({ status: refused.status, code: errorCode(refused) }).toEqual({ status: 400, code });
      expect(await app.runtime.deps.knex('idempotency_keys').where({ user_id: user.id, key })).toEqual([]);

      const corrected = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());
      expect(corrected.status).toBe(201);
      const replay = await app.request.post('/orders').set(bearer(user.token)).set('Idempotency-Key', key).send(body());
      expect(replay.body.data.order.id).toBe(corrected.body.data.order.id);
      expect((await app.request.get('/orders').set(bearer(user.token))).body.meta.total).toBe(1);
    });

    it('when the key is longer than 255 characters, then 400', async () => {
      const res = await app.request.post('/orders').set(bearer(alice.token)).set('Idempotency-Key', 'k'.repeat(256)).send(body());
      expect(res.status).toBe(400);
      expect(errorCode(res)).toBe('INVALID_IDEMPOTENCY_KEY');
    });
  });
});

describe('GET /orders', () => {
  let carol: TestUser;
  let dave: TestUser;
  let carolOrders: string[];
  let daveOrder: string;

  beforeAll(async () => {
    [carol, dave] = await Promise.all([givenUser(app), givenUser(app)]);
    carolOrders = [];
    for (let i = 0; i < 5; i++) carolOrders.push((await givenOrder(app, carol, { items: [{ productId: pen.id, quantity: i + 1 }] })).id);
    daveOrder = (await givenOrder(app, dave)).id;
    expect((await cancel(carolOrders[0]!, carol.token)).status).toBe(200);
  });

  it('when a user lists orders, then only their own come back, newest first, with total, page and limit', async () => {
    const res = await app.request.get('/orders').set(bearer(carol.token));
    expect(res.status).toBe(200);
    expect(res.body.meta).toMatchObject({ total: 5, page: 1, limit: 10 });
    const ids = res.body.data.map((o: { id: string }) => o.id);
    expect([...ids].sort()).toEqual([...carolOrders].sort());
    expect(res.body.data.every((o: { userId: string }) => o.userId === carol.id)).toBe(true);
    const placed = res.body.data.map((o: { placedAt: string }) => Date.parse(o.placedAt));
    expect(placed).toEqual([...placed].sort((a, b) => b - a));
  });

  it("when a user passes someone else's userId, then they still see only their own orders", async () => {
    const res = await app.request.get(`/orders?userId=${dave.id}`).set(bearer(carol.token));
    expect(res.status).toBe(200);
    expect(res.body.data.map((o: { id: string }) => o.id)).not.toContain(daveOrder);
    expect(res.body.meta.total).toBe(5);
  });

  it("when an admin lists orders, then everyone's come back, and userId narrows them to one user", async () => {
    const all = await app.request.get('/orders?limit=100').set(bearer(admin.token));
    const ids = all.body.data.map((o: { id: string }) => o.id);
    expect(ids).toEqual(expect.arrayContaining([...carolOrders, daveOrder]));

    const daves = await app.request.get(`/orders?userId=${dave.id}`).set(bearer(admin.token));
    expect(daves.body.data.map((o: { id: string }) => o.id)).toEqual([daveOrder]);
    expect(daves.body.meta.total).toBe(1);
  });

  it('when a status filter is given, then only orders in that status are counted and listed', async () => {
    const cancelled = await app.request.get('/orders?status=CANCELLED').set(bearer(carol.token));
    const pending = await app.request.get('/orders?status=PENDING').set(bearer(carol.token));
    expect(cancelled.body.data.map((o: { id: string }) => o.id)).toEqual([carolOrders[0]]);
    expect(cancelled.body.meta.total).toBe(1);
    expect(pending.body.meta.total).toBe(4);
    expect(pending.body.data.every((o: { status: string }) => o.status === 'PENDING')).toBe(true);
  });

  it('when pages of 2 are walked by page number, then they partition the list', async () => {
    const full = (await app.request.get('/orders').set(bearer(carol.token))).body.data.map((o: { id: string }) => o.id);
    const pages = [];
    for (const page of [1, 2, 3]) pages.push(await app.request.get(`/orders?page=${page}&limit=2`).set(bearer(carol.token)));
    expect(pages.map((p) => p.body.data.length)).toEqual([2, 2, 1]);
    expect(pages[2]!.body.meta).toMatchObject({ total: 5, page: 3, limit: 2 });
    expect(pages.flatMap((p) => p.body.data.map((o: { id: string }) => o.id))).toEqual(full);
  });

  it('when pages of 2 are walked by cursor, then they cover the list once and the last has no next cursor', async () => {
    const full = (await app.request.get('/orders').set(bearer(carol.token))).body.data.map((o: { id: string }) => o.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await app.request
        .get('/orders')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(bearer(carol.token));
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((o: { id: string }) => o.id));
      cursor = res.body.meta.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(full);
    expect(pages).toBe(3);
  });

  it.each([
    ['limit above 100', 'limit=101', 'VALIDATION_FAILED'],
    ['an unknown status', 'status=LOST', 'VALIDATION_FAILED'],
    ['an unknown parameter', 'sort=total', 'VALIDATION_FAILED'],
    ['a cursor the API never issued', 'cursor=bm90LWEtY3Vyc29y', 'INVALID_CURSOR'],
    [
      'a forged cursor from year 0000',
      `cursor=${Buffer.from(JSON.stringify({ placedAt: '0000-01-01T00:00:00Z', id: '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60' })).toString('base64url')}`,
      'INVALID_CURSOR',
    ],
    ['a userId that is not a uuid', 'userId=42', 'VALIDATION_FAILED'],
    ['a negative minPosition', 'minPosition=-1', 'VALIDATION_FAILED'],
  ])('when the query has %s, then 400 %s', async (_label, query, code) => {
    const res = await app.request.get(`/orders?${query}`).set(bearer(carol.token));
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe(code);
  });

  it('when X-Min-Position names a position already projected, then the list answers at once', async () => {
    const placed = await app.request
      .post('/orders')
      .set(bearer(carol.token))
      .send({ items: [{ productId: pen.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    const res = await app.request.get('/orders').set(bearer(carol.token)).set('X-Min-Position', placed.body.data.position);
    expect(res.status).toBe(200);
    expect(res.body.data[0].id).toBe(placed.body.data.order.id);
    expect((await app.request.get('/orders').set(bearer(carol.token)).set('X-Min-Position', 'soon')).status).toBe(400);
  });

  it('when X-Min-Position names a position no command has issued, then 400 UNKNOWN_POSITION at once instead of a 503 after the wait', async () => {
    const last = await app.runtime.deps.store.lastPosition();
    for (const [path, header] of [
      ['/orders', (last + 1_000_000n).toString()],
      ['/orders', '9'.repeat(19)],
      [`/orders/${randomUUID()}`, '9223372036854775807'],
    ] as const) {
      const res = await app.request.get(path).set(bearer(carol.token)).set('X-Min-Position', header);
      expect({ path, header, status: res.status, code: errorCode(res) }).toEqual({ path, header, status: 400, code: 'UNKNOWN_POSITION' });
    }
  });
});

describe('GET /orders/:id and /orders/:id/history', () => {
  it('when the owner or an admin reads an order, then 200 with an ETag carrying its revision', async () => {
    const order = await givenOrder(app, alice);
    for (const token of [alice.token, admin.token]) {
      const res = await app.request.get(`/orders/${order.id}`).set(bearer(token));
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ id: order.id, userId: alice.id, status: 'PENDING', revision: 0 });
      expect(res.headers.etag).toBe('"0"');
    }
  });

  it("when the owner reads a paid order's history, then it lists each transition with its actor, oldest first", async () => {
    const order = await givenOrder(app, alice);
    expect((await markPaid(order.id)).status).toBe(200);

    const res = await app.request.get(`/orders/${order.id}/history`).set(bearer(alice.token));
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      expect.objectContaining({ revision: 0, eventType: 'OrderPlaced', fromStatus: null, toStatus: 'PENDING', actor: { type: 'user', id: alice.id } }),
      expect.objectContaining({ revision: 1, eventType: 'PaymentSucceeded', fromStatus: 'PENDING', toStatus: 'PAID', actor: { type: 'admin', id: admin.id } }),
    ]);
    const asAdmin = await app.request.get(`/orders/${order.id}/history`).set(bearer(admin.token));
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.data).toEqual(res.body.data);
  });

  it('when the order does not exist or the id is not a uuid, then 404 or 400', async () => {
    for (const path of [`/orders/${randomUUID()}`, `/orders/${randomUUID()}/history`]) {
      const res = await app.request.get(path).set(bearer(admin.token));
      expect(res.status).toBe(404);
      expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
    }
    expect((await app.request.get('/orders/123').set(bearer(admin.token))).status).toBe(400);
    expect((await app.request.get('/orders/123/history').set(bearer(admin.token))).status).toBe(400);
  });

  it('when an unknown query parameter is sent, then 400', async () => {
    const order = await givenOrder(app, alice);
    expect((await app.request.get(`/orders/${order.id}?expand=user`).set(bearer(alice.token))).status).toBe(400);
  });
});

describe('PATCH /orders/:id/status', () => {
  it('when If-Match carries a stale revision, then 412 and nothing changes; the current revision succeeds', async () => {
    const order = await givenOrder(app, alice);
    await markPaid(order.id);
    const etag = (await app.request.get(`/orders/${order.id}`).set(bearer(admin.token))).headers.etag as string;
    expect(etag).toBe('"1"');

    const stale = await app.request.patch(`/orders/${order.id}/status`).set(bearer(admin.token)).set('If-Match', '"0"').send({ status: 'PROCESSING' });
    expect(stale.status).toBe(412);
    expect(errorCode(stale)).toBe('REVISION_MISMATCH');
    expect(await statusOf(order.id)).toBe('PAID');

    const fresh = await app.request.patch(`/orders/${order.id}/status`).set(bearer(admin.token)).set('If-Match', etag).send({ status: 'PROCESSING' });
    expect(fresh.status).toBe(200);
    expect(fresh.body.data.order.revision).toBe(2);
  });
});

describe('POST /orders/:id/cancel', () => {
  it('when the owner cancels a pending order with a reason, then 200 CANCELLED and the history records it', async () => {
    const order = await givenOrder(app, alice);
    const res = await cancel(order.id, alice.token, { reason: 'changed my mind' });
    expect(res.status).toBe(200);
    expect(res.body.data.order.status).toBe('CANCELLED');
    const history = await app.request.get(`/orders/${order.id}/history`).set(bearer(alice.token));
    expect(history.body.data.at(-1)).toMatchObject({ eventType: 'OrderCancelled', fromStatus: 'PENDING', toStatus: 'CANCELLED', actor: { type: 'user', id: alice.id } });
  });
});

describe("another user's order (BOLA)", () => {
  let order: { id: string };
  beforeAll(async () => {
    order = await givenOrder(app, alice);
  });

  it('when another user reads it, then 404 exactly as for an order that does not exist', async () => {
    const theirs = await app.request.get(`/orders/${order.id}`).set(bearer(bob.token));
    const missingId = randomUUID();
    const missing = await app.request.get(`/orders/${missingId}`).set(bearer(bob.token));
    expect(theirs.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(errorCode(theirs)).toBe(errorCode(missing));
    expect(JSON.stringify(theirs.body)).not.toContain(alice.id);
  });

  it('when another user reads its history, then 404', async () => {
    const res = await app.request.get(`/orders/${order.id}/history`).set(bearer(bob.token));
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
  });

  it('when another user lists orders, then it is not among them', async () => {
    const res = await app.request.get('/orders?limit=100').set(bearer(bob.token));
    expect(res.status).toBe(200);
    expect(res.body.data.map((o: { id: string }) => o.id)).not.toContain(order.id);
  });

  it("when another user reuses the owner's Idempotency-Key with the same body, then a new order of their own is placed", async () => {
    const key = randomUUID();
    const body = { items: [{ productId: pen.id, quantity: 1 }], paymentMethod: 'MANUAL' };
    const owners = await app.request.post('/orders').set(bearer(alice.token)).set('Idempotency-Key', key).send(body);
    const others = await app.request.post('/orders').set(bearer(bob.token)).set('Idempotency-Key', key).send(body);
    expect(others.status).toBe(201);
    expect(others.body.data.order.id).not.toBe(owners.body.data.order.id);
    expect(others.body.data.order.userId).toBe(bob.id);
  });
});

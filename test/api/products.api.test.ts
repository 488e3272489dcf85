import { randomUUID } from 'node:crypto';
import { aProduct, bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

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

describe('POST /products', () => {
  it('when an admin adds a product, then 201 returns it active with its price in minor units', async () => {
    const body = aProduct({ name: 'Blue mug', unitAmount: 1250, currency: 'EUR' });
    const res = await app.request.post('/products').set(bearer(admin.token)).send(body);

    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      status: 'success',
      data: { id: expect.any(String), ...body, active: true, onHand: null, reserved: null, available: null, createdAt: expect.any(String), updatedAt: expect.any(String) },
    });
    const fetched = await app.request.get(`/products/${res.body.data.id}`);
    expect(fetched.body.data).toEqual(res.body.data);
  });

  it('when the sku is already used, then 409 PRODUCT_SKU_TAKEN', async () => {
    const existing = await givenProduct(app);
    const res = await app.request
      .post('/products')
      .set(bearer(admin.token))
      .send(aProduct({ sku: existing.sku }));
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PRODUCT_SKU_TAKEN');
  });

  it.each([
    ['a lower-case currency', { currency: 'usd' }],
    ['a four-letter currency', { currency: 'USDT' }],
    ['a fractional amount', { unitAmount: 12.5 }],
    ['a negative amount', { unitAmount: -1 }],
    ['an amount given as a string', { unitAmount: '1999' }],
    ['an empty name', { name: '   ' }],
    ['a sku with spaces', { sku: 'has space' }],
    ['an unknown field', { active: false }],
    ['a NUL byte in the name', { name: 'Mug\u0000' }],
    ['an unpaired surrogate in the name', { name: 'Mug \ud800' }],
    ['a newline in the name', { name: 'Mug\nDROP' }],
  ])('when the body has %s, then 400 VALIDATION_FAILED', async (_label, patch) => {
    const res = await app.request
      .post('/products')
      .set(bearer(admin.token))
      .send({ ...aProduct(), ...patch });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when an ordinary user or nobody adds a product, then 403 or 401 and nothing is stored', async () => {
    const body = aProduct();
    expect((await app.request.post('/products').set(bearer(user.token)).send(body)).status).toBe(403);
    expect((await app.request.post('/products').send(body)).status).toBe(401);
    expect(await app.db.knex('products').where('sku', body.sku).first()).toBeUndefined();
  });
});

describe('PATCH /products/:id', () => {
  it('when an admin reprices and renames a product, then 200 returns the new values and updatedAt moves', async () => {
    const product = await givenProduct(app, { unitAmount: 500 });
    const res = await app.request.patch(`/products/${product.id}`).set(bearer(admin.token)).send({ name: 'Renamed', unitAmount: 650 });

    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: product.id, sku: product.sku, name: 'Renamed', unitAmount: 650, currency: 'USD', active: true });
    expect(Date.parse(res.body.data.updatedAt)).toBeGreaterThanOrEqual(Date.parse(product.updatedAt));
  });

  it('when an admin deactivates a product, then the public catalog hides it and ordering it is refused', async () => {
    const product = await givenProduct(app);
    const res = await app.request.patch(`/products/${product.id}`).set(bearer(admin.token)).send({ active: false });
    expect(res.status).toBe(200);
    expect(res.body.data.active).toBe(false);

    expect((await app.request.get(`/products/${product.id}`)).status).toBe(404);
    expect((await app.request.get(`/products/${product.id}`).set(bearer(admin.token))).body.data.active).toBe(false);
    const order = await app.request
      .post('/orders')
      .set(bearer(user.token))
      .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    expect(order.status).toBe(400);
    expect(errorCode(order)).toBe('PRODUCT_NOT_FOUND');
  });

  it.each([
    ['an empty patch', {}],
    ['a currency change', { currency: 'EUR' }],
    ['a sku change', { sku: 'NEW-SKU' }],
    ['a negative amount', { unitAmount: -5 }],
    ['active as a string', { active: 'false' }],
  ])('when the patch is %s, then 400 VALIDATION_FAILED', async (_label, patch) => {
    const product = await givenProduct(app);
    const res = await app.request.patch(`/products/${product.id}`).set(bearer(admin.token)).send(patch);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when the product does not exist, then 404 PRODUCT_NOT_FOUND', async () => {
    const res = await app.request.patch(`/products/${randomUUID()}`).set(bearer(admin.token)).send({ name: 'x' });
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('PRODUCT_NOT_FOUND');
  });

  it('when an ordinary user patches a product, then 403 and the product is unchanged', async () => {
    const product = await givenProduct(app, { unitAmount: 700 });
    const res = await app.request.patch(`/products/${product.id}`).set(bearer(user.token)).send({ unitAmount: 1 });
    expect(res.status).toBe(403);
    expect((await app.request.get(`/products/${product.id}`)).body.data.unitAmount).toBe(700);
  });
});

describe('GET /products', () => {
  let catalog: TestApp;
  let catalogAdmin: TestUser;
  beforeAll(async () => {
    catalog = await startTestApp();
    catalogAdmin = await givenAdmin(catalog);
    for (let i = 0; i < 5; i++) await givenProduct(catalog, { name: `Product ${i}` });
    await givenProduct(catalog, { name: 'Retired', active: false });
  });
  afterAll(async () => {
    await catalog.stop();
  });

  it('when anyone lists products, then only active ones are returned with total, page and limit', async () => {
    const res = await catalog.request.get('/products');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('success');
    expect(res.body.meta).toEqual({ total: 5, page: 1, limit: 20 });
    expect(res.body.data).toHaveLength(5);
    expect(res.body.data.every((p: { active: boolean }) => p.active)).toBe(true);
  });

  it('when pages of 2 are walked, then they cover the catalog once, newest first', async () => {
    const all = (await catalog.request.get('/products?limit=100')).body.data as { id: string; createdAt: string }[];
    const pages = await Promise.all([1, 2, 3].map((page) => catalog.request.get(`/products?page=${page}&limit=2`)));
    expect(pages.map((p) => p.body.data.length)).toEqual([2, 2, 1]);
    expect(pages[1]!.body.meta).toEqual({ total: 5, page: 2, limit: 2 });
    expect(pages.flatMap((p) => p.body.data.map((d: { id: string }) => d.id))).toEqual(all.map((p) => p.id));
    const times = all.map((p) => Date.parse(p.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('when an admin asks for inactive products too, then they are included; anyone else gets 403', async () => {
    const asAdmin = await catalog.request.get('/products?includeInactive=true').set(bearer(catalogAdmin.token));
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.meta.total).toBe(6);
    expect(asAdmin.body.data.some((p: { name: string }) => p.name === 'Retired')).toBe(true);
    expect((await catalog.request.get('/products?includeInactive=true')).status).toBe(403);
  });

  it.each([
    ['limit above 100', 'limit=101'],
    ['limit 0', 'limit=0'],
    ['page 0', 'page=0'],
    ['a non-numeric page', 'page=abc'],
    ['an unknown parameter', 'sort=price'],
  ])('when the query has %s, then 400', async (_label, query) => {
    const res = await catalog.request.get(`/products?${query}`);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });
});

describe('GET /products/:id', () => {
  it('when the product exists, then anyone gets it without a token', async () => {
    const product = await givenProduct(app, { name: 'Public thing' });
    const res = await app.request.get(`/products/${product.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'success', data: product });
  });

  it('when the id is unknown or not a uuid, then 404 or 400', async () => {
    const unknown = await app.request.get(`/products/${randomUUID()}`);
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe('PRODUCT_NOT_FOUND');
    expect((await app.request.get('/products/not-a-uuid')).status).toBe(400);
  });
});

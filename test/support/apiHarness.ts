import { randomBytes, randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { loadConfig } from '../../src/infra/config/config';
import type { Role } from '../../src/infra/http/authTokens';
import { createLogger } from '../../src/infra/logger';
import { startRuntime, type Runtime, type RuntimeOptions } from '../../src/infra/runtime';
import { withTimeout } from '../../src/infra/withTimeout';
import { createUser } from '../../src/commands/accounts/users';
import { createProduct, type CreateProduct } from '../../src/commands/products';
import type { ProductDto } from '../../src/queries/products';
import { createTestDatabase, type TestDatabase } from './testDatabase';

export const TEST_JWT_SECRET = 'api-test-secret-0123456789abcdef0123456789';
export const ALLOWED_ORIGIN = 'https://shop.example.test';

export interface TestApp {
  url: string;
  /** supertest bound to the running server: `app.request.get('/orders')`. */
  request: supertest.Agent;
  runtime: Runtime;
  db: TestDatabase;
  stop(): Promise<void>;
}

/**
 * Starts the real runtime (api + projector) on a fresh database, real Redis and an ephemeral port.
 * Rate limits default high so a file's many requests are not throttled; the Redis key prefix is
 * unique per app so parallel runs never share counters.
 */
export async function startTestApp(overrides: Record<string, string> = {}, options: RuntimeOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const prefix = `ol-test:${randomBytes(6).toString('hex')}:`;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    ROLES: 'api,projector',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    DATABASE_POOL_MAX: '10',
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: '6379',
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    BCRYPT_ROUNDS: '4',
    CORS_ORIGINS: ALLOWED_ORIGIN,
    RATE_LIMIT_MAX: '100000',
    LOGIN_RATE_LIMIT_MAX: '100000',
    CONSISTENCY_WAIT_MS: '5000',
    ...overrides,
  });
  let runtime: Runtime;
  try {
    runtime = await startRuntime(config, { ...options, logger: options.logger ?? createLogger('silent') });
  } catch (error) {
    await db.drop();
    throw error;
  }
  const url = runtime.url!;
  return {
    url,
    request: supertest.agent(url),
    runtime,
    db,
    async stop() {
      // Bounded: an app started against an unreachable Redis must still stop.
      // withTimeout clears its timer: one left pending keeps a Jest worker alive past its last file.
      await withTimeout(deleteRedisKeys(runtime, config.REDIS_KEY_PREFIX), 2000, 'deleting the Redis keys').catch(() => undefined);
      await runtime.stop();
      await db.drop();
    },
  };
}

async function deleteRedisKeys(runtime: Runtime, prefix: string): Promise<void> {
  const redis = runtime.deps.redis;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

export interface TestUser {
  id: string;
  email: string;
  role: Role;
  password: string;
  token: string;
}

export function uniqueEmail(label = 'user'): string {
  return `${label}-${randomUUID().slice(0, 8)}@example.test`;
}

/** A user created straight in the users table, with a real signed token (no HTTP round trips). */
export async function givenUser(app: TestApp, overrides: Partial<{ email: string; password: string; role: Role }> = {}): Promise<TestUser> {
  const password = overrides.password ?? `pw-${randomUUID()}`;
  const role = overrides.role ?? 'user';
  const created = await createUser(app.runtime.deps.knex, { email: overrides.email ?? uniqueEmail(role), password, role }, { bcryptRounds: app.runtime.config.BCRYPT_ROUNDS });
  const { token } = app.runtime.deps.tokens.sign(created);
  return { ...created, password, token };
}

export function givenAdmin(app: TestApp): Promise<TestUser> {
  return givenUser(app, { role: 'admin' });
}

/** Registers and logs in through the API, as a client would. */
export async function registerAndLogin(app: TestApp, overrides: Partial<{ email: string; password: string }> = {}): Promise<TestUser> {
  const email = overrides.email ?? uniqueEmail();
  const password = overrides.password ?? `pw-${randomUUID()}`;
  const registered = await app.request.post('/auth/register').send({ email, password });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${JSON.stringify(registered.body)}`);
  const login = await app.request.post('/auth/login').send({ email, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  const body = login.body as { token: string; user: { id: string; email: string; role: Role } };
  return { ...body.user, password, token: body.token };
}

export function aProduct(overrides: Partial<CreateProduct> = {}): CreateProduct {
  return {
    sku: `SKU-${randomUUID().slice(0, 8)}`,
    name: 'Widget',
    unitAmount: 1999,
    currency: 'USD',
    ...overrides,
  };
}

/** A catalog product written straight to the table; `active: false` deactivates it. */
export async function givenProduct(app: TestApp, overrides: Partial<CreateProduct> & { active?: boolean } = {}): Promise<ProductDto> {
  const { active, ...fields } = overrides;
  const product = await createProduct(app.runtime.deps.knex, aProduct(fields), new Date());
  if (active === false) {
    await app.runtime.deps.knex('products').where('id', product.id).update({ active: false });
    return { ...product, active: false };
  }
  return product;
}

export interface PlacedOrder {
  id: string;
  status: string;
  totalAmount: number;
  currency: string;
  revision: number;
  userId: string;
}

/** Places an order through the API and returns the order from the 201 answer. */
export async function givenOrder(
  app: TestApp,
  user: TestUser,
  options: { items?: { productId: string; quantity: number }[]; paymentMethod?: 'STRIPE' | 'PAYPAL' | 'MANUAL' } = {},
): Promise<PlacedOrder> {
  const items = options.items ?? [{ productId: (await givenProduct(app)).id, quantity: 1 }];
  const res = await app.request
    .post('/orders')
    .set(bearer(user.token))
    .send({ items, paymentMethod: options.paymentMethod ?? 'MANUAL' });
  if (res.status !== 201) throw new Error(`place order failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { data: { order: PlacedOrder } }).data.order;
}

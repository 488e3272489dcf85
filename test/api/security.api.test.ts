import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/infra/config/config';
import { ALLOWED_ORIGIN, bearer, givenProduct, givenUser, startTestApp, type TestApp } from '../support/apiHarness';

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

describe('HTTP hardening', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ JSON_BODY_LIMIT: '10kb' });
  });
  afterAll(async () => {
    await app.stop();
  });

  it('when any route answers, then helmet headers are set and x-powered-by is not', async () => {
    const res = await app.request.get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when an allow-listed origin calls, then CORS allows it and preflight names our headers', async () => {
    const simple = await app.request.get('/products').set('Origin', ALLOWED_ORIGIN);
    expect(simple.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);

    const preflight = await app.request
      .options('/orders')
      .set('Origin', ALLOWED_ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers['access-control-allow-headers']).toEqual(expect.stringContaining('Idempotency-Key'));
  });

  it('when an origin outside the allow-list calls, then no CORS header allows it', async () => {
    const res = await app.request.get('/products').set('Origin', 'https://evil.example.test');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await app.request.options('/orders').set('Origin', 'https://evil.example.test').set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('when a JSON body exceeds the limit, then 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await app.request
      .post('/auth/login')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@example.test', password: 'x'.repeat(20_000) }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ status: 'error', error: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' } });
  });

  it('when the body is malformed JSON, then 400 MALFORMED_JSON without parser internals', async () => {
    const res = await app.request.post('/auth/login').set('Content-Type', 'application/json').send('{"email": "a@example.test", "password": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ status: 'error', error: { code: 'MALFORMED_JSON', message: 'Request body is not valid JSON' } });
  });

  it('when the body is not JSON at all, then 400 VALIDATION_FAILED rather than a crash', async () => {
    const res = await app.request.post('/auth/login').set('Content-Type', 'text/plain').send('email=a@example.test');
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when a route does not exist, then a JSON 404 ROUTE_NOT_FOUND', async () => {
    const res = await app.request.get('/admin/secrets');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ROUTE_NOT_FOUND');
  });

  it('when the database fails under a request, then 500 INTERNAL with no SQL, table names or stack', async () => {
    const broken = await startTestApp();
    try {
      await givenProduct(broken);
      await broken.db.knex.raw('alter table products rename to products_gone');
      const res = await broken.request.get('/products');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ status: 'error', error: { code: 'INTERNAL', message: 'Internal server error' } });
      expect(res.text).not.toMatch(/products|select|relation|at .*\.ts/i);
    } finally {
      await broken.stop();
    }
  });

  it('when validation fails, then the error names the field but carries no stack', async () => {
    const user = await givenUser(app);
    const res = await app.request.post('/orders').set(bearer(user.token)).send({ items: 'lots', paymentMethod: 'MANUAL' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('items');
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});

describe('rate limits', () => {
  it('when a client exceeds RATE_LIMIT_MAX, then 429 RATE_LIMITED in our error shape with Retry-After, and probes stay open', async () => {
    const app = await startTestApp({ RATE_LIMIT_MAX: '5' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await app.request.get('/products')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);

      const limited = await app.request.get('/products');
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({
        status: 'error',
        error: { code: 'RATE_LIMITED', message: 'Too many requests; retry later', details: { retryAfterSeconds: expect.any(Number) } },
      });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['ratelimit-policy']).toContain('5');
      // Other routes share the budget; liveness and readiness probes do not.
      expect((await app.request.post('/auth/login').send({ email: 'a@example.test', password: 'password-1' })).status).toBe(429);
      expect((await app.request.get('/health')).status).toBe(200);
      expect((await app.request.get('/ready')).status).toBe(200);

      const keys = await app.runtime.deps.redis.keys(`${app.runtime.config.REDIS_KEY_PREFIX}rate-limit:global:*`);
      expect(keys).toHaveLength(1);
    } finally {
      await app.stop();
    }
  });

  it('when Swagger UI, the OpenAPI document and the probes are fetched more than RATE_LIMIT_MAX times, then none of it counts, while API routes still get 429 past the limit', async () => {
    const app = await startTestApp({ RATE_LIMIT_MAX: '3' });
    try {
      const page = await app.request.get('/api-docs/');
      expect(page.status).toBe(200);
      // Every file Swagger UI's page loads, as a browser would.
      const assets = [...page.text.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => `/api-docs/${m[1]}`);
      expect(assets).toEqual(expect.arrayContaining(['/api-docs/swagger-ui.css', '/api-docs/swagger-ui-bundle.js', '/api-docs/swagger-ui-init.js']));
      const unmetered = ['/api-docs', '/api-docs/', ...assets, '/api-docs.json', '/health', '/ready'];
      for (let round = 0; round < 3; round++) {
        for (const path of unmetered) expect({ path, status: (await app.request.get(path)).status }).toEqual({ path, status: path === '/api-docs' ? 301 : 200 });
        // A scraper polling it must not exhaust anyone's budget either.
        expect((await app.request.get('/metrics')).status).toBe(200);
      }

      for (let i = 0; i < 3; i++) expect((await app.request.get('/products')).status).toBe(200);
      expect((await app.request.get('/products')).status).toBe(429);
      // Only reads of those exact paths are free: other methods, and look-alike paths, count.
      expect((await app.request.post('/api-docs.json')).status).toBe(429);
      expect((await app.request.get('/api-docsx')).status).toBe(429);
      // The documentation stays readable with the API budget spent.
      expect((await app.request.get('/api-docs.json')).status).toBe(200);
      expect((await app.request.get('/api-docs/swagger-ui-init.js')).status).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it('when two API instances share Redis, then the limit holds across them', async () => {
    const prefix = `ol-test:${randomBytes(6).toString('hex')}:`;
    const first = await startTestApp({ RATE_LIMIT_MAX: '4', REDIS_KEY_PREFIX: prefix });
    const second = await startTestApp({ RATE_LIMIT_MAX: '4', REDIS_KEY_PREFIX: prefix });
    try {
      expect((await first.request.get('/products')).status).toBe(200);
      expect((await first.request.get('/products')).status).toBe(200);
      expect((await second.request.get('/products')).status).toBe(200);
      expect((await second.request.get('/products')).status).toBe(200);
      expect((await second.request.get('/products')).status).toBe(429);
      expect((await first.request.get('/products')).status).toBe(429);
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it('when login attempts exceed LOGIN_RATE_LIMIT_MAX, then 429 LOGIN_RATE_LIMITED even with the right password, while other routes still answer', async () => {
    const app = await startTestApp({ LOGIN_RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX: '100' });
    try {
      const user = await givenUser(app);
      for (let i = 0; i < 3; i++) {
        expect((await app.request.post('/auth/login').send({ email: user.email, password: 'wrong-password' })).status).toBe(401);
      }
      const limited = await app.request.post('/auth/login').send({ email: user.email, password: user.password });
      expect(limited.status).toBe(429);
      expect(errorCode(limited)).toBe('LOGIN_RATE_LIMITED');
      expect((await app.request.get('/products')).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

describe('operations probes', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app.stop();
  });

  it('when /health is called, then 200 ok', async () => {
    const res = await app.request.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
  });

  it('when /ready is called with every dependency up, then 200 ready with the projector caught up', async () => {
    const res = await app.request.get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.checks).toEqual({ database: { ok: true }, redis: { ok: true }, eventStore: { ok: true, kind: 'postgres' } });
    expect(res.body.projector.role).toBe('running');
  });
});

describe('configuration', () => {
  it('when NODE_ENV is production and JWT_SECRET is missing, then loadConfig fails naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: JWT_SECRET is required when NODE_ENV=production/);
  });

  it('when JWT_SECRET is shorter than 32 characters, then loadConfig fails', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/at least 32 characters/);
  });

  it('when production has a proper secret, then the secret is used; development falls back to its own', () => {
    const secret = 's'.repeat(40);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, PII_MASTER_KEY: 'k'.repeat(43) + '=' }).jwtSecret).toBe(secret);
    expect(loadConfig({ NODE_ENV: 'development' }).jwtSecret).not.toBe(secret);
  });

  it('when the server starts in production without JWT_SECRET, then it exits 1 with a clear message before listening', () => {
    const root = path.resolve(__dirname, '../..');
    // The server itself, not the tsx CLI: if it wrongly started, the timeout's SIGKILL must reach it.
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('JWT_SECRET is required when NODE_ENV=production');
  });
});

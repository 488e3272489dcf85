import { startTestApp, type TestApp } from '../support/apiHarness';

// Port 1 on loopback: nothing listens, so every Redis command stays unanswered.
describe('when Redis is unreachable', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REDIS_PORT: '1', ROLES: 'api' });
  });
  afterAll(async () => {
    await app.stop();
    // ioredis ends a client that never connected with a 2 s timer (`disconnectTimeout`) waiting for
    // a socket that has already closed; left pending, it keeps the Jest worker alive past its last
    // file and Jest force-exits it ("A worker process has failed to exit gracefully").
    await new Promise((resolve) => setTimeout(resolve, 2100));
  });

  it('then ordinary routes answer after the bounded limiter check (fail open)', async () => {
    const started = Date.now();
    const res = await app.request.get('/products');
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('then login answers 503 instead of skipping its brute-force limit (fail closed)', async () => {
    const res = await app.request.post('/auth/login').send({ email: 'nobody@example.test', password: 'whatever-123' });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('RATE_LIMITER_UNAVAILABLE');
  });

  it('then /ready reports Redis as down with 503', async () => {
    const res = await app.request.get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.checks.redis.ok).toBe(false);
    expect(res.body.checks.database.ok).toBe(true);
  });
});

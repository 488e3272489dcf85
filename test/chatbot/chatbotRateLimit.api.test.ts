import { bearer, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let app: TestApp;
const LIMIT = 3;

beforeAll(async () => {
  // Keyless, so the limiter is tested without a provider; the global limit stays high.
  app = await startTestApp({ CHATBOT_RATE_LIMIT_MAX: String(LIMIT) });
});
afterAll(async () => {
  await app?.stop();
});

function ask(user?: TestUser) {
  const req = app.request.post('/chatbot');
  if (user) req.set(bearer(user.token));
  return req.send({ message: 'Where is my order?' });
}

describe('POST /chatbot rate limit', () => {
  it('when a user exceeds CHATBOT_RATE_LIMIT_MAX questions, then 429 CHATBOT_RATE_LIMITED for them only, while other users and routes still answer', async () => {
    const chatty = await givenUser(app);
    const other = await givenUser(app);

    for (let i = 0; i < LIMIT; i++) expect((await ask(chatty)).status).toBe(200);
    const limited = await ask(chatty);

    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('CHATBOT_RATE_LIMITED');
    expect(Number(limited.body.error.details.retryAfterSeconds)).toBeGreaterThan(0);
    expect((await ask(other)).status).toBe(200);
    expect((await app.request.get('/orders').set(bearer(chatty.token))).status).toBe(200);
    const keys = await app.runtime.deps.redis.keys(`${app.runtime.config.REDIS_KEY_PREFIX}rate-limit:chatbot:*`);
    expect(keys).toEqual(expect.arrayContaining([expect.stringContaining(`user:${chatty.id}`)]));
  });

  it('when anonymous callers from one address exceed the limit, then 429 for that address', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await ask()).status).toBe(200);
    const limited = await ask();
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('CHATBOT_RATE_LIMITED');
  });
});

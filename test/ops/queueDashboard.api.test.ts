import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { createLogger } from '../../src/infra/logger';
import { createEmailQueue, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { bearer, givenAdmin, givenUser, startTestApp, TEST_JWT_SECRET, type TestApp, type TestUser } from '../support/apiHarness';
import { eventually } from '../support/realtimeHarness';
import jwt from 'jsonwebtoken';

let app: TestApp;
let admin: TestUser;
let queue: EmailQueue;

beforeAll(async () => {
  // The worker role runs the email worker, so a job the test queues really fails and can be retried.
  app = await startTestApp({ ROLES: 'api,worker' });
  admin = await givenAdmin(app);
  queue = createEmailQueue(app.runtime.config, createLogger('silent'));
});

afterAll(async () => {
  await queue?.close();
  await app?.stop();
});

/** Opens a dashboard session as `user`; returns the response and the Cookie header value to send back. */
async function openSession(user: TestUser, target: TestApp = app): Promise<{ res: supertest.Response; cookie: string }> {
  const res = await supertest(target.url).post('/admin/queues/session').set(bearer(user.token));
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return { res, cookie: setCookie[0]?.split(';')[0] ?? '' };
}

const dashboard = (path: string, cookie?: string): supertest.Test => {
  const request = supertest(app.url).get(`/admin/queues${path}`);
  return cookie ? request.set('Cookie', cookie) : request;
};

test('when nobody is signed in, then the dashboard and its API answer 401 with the error envelope', async () => {
  for (const path of ['', '/', '/api/queues', '/static/js/anything.js']) {
    const res = await dashboard(path);
    expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status: 401, code: 'UNAUTHORIZED' });
  }
  // A bearer token is not a session, in a header or as the cookie.
  expect((await dashboard('/').set(bearer(admin.token))).status).toBe(401);
  expect((await dashboard('/', `ol_queue_dashboard=${admin.token}`)).status).toBe(401);
  // Nor is a cookie signed with the API's JWT key rather than the dashboard's.
  const forged = jwt.sign({ sub: admin.id, jti: 'x', ver: 0, tex: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET, {
    audience: 'order-ledger:queue-dashboard',
    expiresIn: 600,
  });
  expect((await dashboard('/', `ol_queue_dashboard=${forged}`)).status).toBe(401);
});

test('when a user who is not an admin asks for a session, then it is refused with 403', async () => {
  const user = await givenUser(app);
  const { res } = await openSession(user);
  expect(res.status).toBe(403);
  expect(res.headers['set-cookie']).toBeUndefined();
});

test('when an admin opens a session, then the cookie is HttpOnly, SameSite=Strict and scoped to the dashboard, the page and its scripts load under their own CSP, and its API works', async () => {
  const { res, cookie } = await openSession(admin);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'success', data: { url: '/admin/queues/', expiresAt: expect.stringMatching(/Z$/) } });
  expect(Date.parse(res.body.data.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
  const attributes = String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]).split('; ');
  expect(attributes).toEqual(expect.arrayContaining(['Path=/admin/queues', 'HttpOnly', 'SameSite=Strict', 'Max-Age=900']));
  expect(attributes).not.toContain('Secure');

  const page = await dashboard('/', cookie);
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  expect(page.text).toContain('<base href="/admin/queues/" />');
  expect(page.text).toContain('order-ledger queues');
  const csp = String(page.headers['content-security-policy']);
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self' 'unsafe-inline'");
  expect(csp).toContain("frame-ancestors 'none'");
  for (const script of [...page.text.matchAll(/<script defer src="([^"]+)"/g)].map((m) => m[1]!)) {
    const asset = await dashboard(`/${script}`, cookie);
    expect({ script, status: asset.status, type: asset.headers['content-type'] }).toEqual({ script, status: 200, type: expect.stringMatching(/javascript/) });
  }

  const api = await dashboard('/api/queues', cookie);
  expect(api.status).toBe(200);
  expect((api.body as { queues: Array<{ name: string }> }).queues.map((q) => q.name)).toEqual(['emails']);

  // The relaxed style policy stays on the dashboard: the rest of the API keeps helmet's.
  expect(String((await app.request.get('/health')).headers['content-security-policy'])).not.toContain("frame-ancestors 'none'");
});

test('when an admin retries a failed job from the dashboard, then the job runs again; a cross-site request is refused', async () => {
  const { cookie } = await openSession(admin);
  const jobId = randomUUID();
  // An event that is in no stream: the worker gives up at once (unrecoverable).
  await queue.queue.add('order-placed', { eventId: jobId, orderId: randomUUID(), kind: 'order-placed' }, { jobId, attempts: 1 });
  await eventually(async () => (await queue.queue.getJobState(jobId)) === 'failed', 'the job to fail', 15_000);

  const crossSite = await supertest(app.url).put(`/admin/queues/api/queues/emails/${jobId}/retry`).set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site');
  expect(crossSite.status).toBe(403);
  expect(crossSite.body.error.code).toBe('CROSS_SITE_REQUEST');

  const retry = await supertest(app.url).put(`/admin/queues/api/queues/emails/${jobId}/retry`).set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin');
  expect(retry.status).toBeLessThan(300);
  await eventually(async () => (await queue.queue.getJob(jobId))?.attemptsMade === 2, 'the retried job to run again', 15_000);
});

test('when the account behind a session is demoted, or the token that opened it is logged out, then the dashboard refuses it', async () => {
  const demoted = await givenAdmin(app);
  const first = await openSession(demoted);
  expect((await dashboard('/api/queues', first.cookie)).status).toBe(200);
  await app.runtime.deps.knex('users').where({ id: demoted.id }).update({ role: 'user' });
  await eventually(async () => (await dashboard('/api/queues', first.cookie)).status === 403, 'the demotion to reach the dashboard', 5000);

  const other = await givenAdmin(app);
  const second = await openSession(other);
  expect((await dashboard('/api/queues', second.cookie)).status).toBe(200);
  expect((await app.request.post('/auth/logout').set(bearer(other.token))).status).toBe(204);
  const refused = await dashboard('/api/queues', second.cookie);
  expect(refused.status).toBe(401);
  expect(refused.body.error.code).toBe('TOKEN_REVOKED');
});

test('when the dashboard polls, then it spends its own budget, not the API rate limit', async () => {
  const limited = await startTestApp({ ROLES: 'api', RATE_LIMIT_MAX: '3', QUEUE_DASHBOARD_RATE_LIMIT_MAX: '5' });
  try {
    const owner = await givenAdmin(limited);
    const { res, cookie } = await openSession(owner, limited);
    expect(res.status).toBe(200);
    const poll = (): Promise<number> =>
      supertest(limited.url)
        .get('/admin/queues/api/queues')
        .set('Cookie', cookie)
        .then((r) => r.status);
    // Five polls fill the admin's dashboard budget; the API's three (one spent on the session) stay.
    for (let i = 0; i < 5; i++) expect(await poll()).toBe(200);
    expect(await poll()).toBe(429);
    expect((await limited.request.get('/orders').set(bearer(owner.token))).status).toBe(200);
  } finally {
    await limited.stop();
  }
});

import jwt from 'jsonwebtoken';
import type { Knex } from 'knex';
import pg from 'pg';
import { revokeAllTokens, setDisabled, setRole } from '../../src/commands/accounts/accounts';
import { AUTH_CHANNEL } from '../../src/infra/auth/authState';
import { bearer, givenAdmin, givenUser, registerAndLogin, TEST_JWT_SECRET, type TestApp, type TestUser } from '../support/apiHarness';
import { createCluster, eventually, type Cluster } from '../support/realtimeHarness';

// Every change must show on every instance within this bound.
const CONVERGENCE_MS = 5000;

let cluster: Cluster;
/** Default TTL: the instance the changes are made through. */
let a: TestApp;
/** A TTL far beyond the bound: only the notification path can make it see a change in time. */
let b: TestApp;

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

async function status(app: TestApp, token: string, path = '/orders'): Promise<number> {
  return (await app.request.get(path).set(bearer(token))).status;
}

async function createsProduct(app: TestApp, token: string): Promise<number> {
  const res = await app.request
    .post('/products')
    .set(bearer(token))
    .send({ sku: `SKU-${Math.random().toString(36).slice(2, 10)}`, name: 'X', unitAmount: 100, currency: 'USD' });
  return res.status;
}

/** Waits (at most CONVERGENCE_MS) until the instance answers `expected` for the token. */
async function answersWithin(app: TestApp, expected: number, check: () => Promise<number>, what: string): Promise<void> {
  await eventually(async () => (await check()) === expected, `${what} on ${app === a ? 'A' : 'B'}`, CONVERGENCE_MS);
}

/** Logs in again: a second token of the same user. */
async function login(app: TestApp, user: TestUser): Promise<string> {
  const res = await app.request.post('/auth/login').send({ email: user.email, password: user.password });
  expect(res.status).toBe(200);
  return (res.body as { token: string }).token;
}

beforeAll(async () => {
  cluster = await createCluster('revocation');
  a = await cluster.start({ ROLES: 'api' });
  b = await cluster.start({ ROLES: 'api', AUTH_STATE_TTL_MS: '600000' });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a token follows its account', () => {
  test('when the user row is deleted, then the next requests with their token get 401 ACCOUNT_NOT_FOUND on every instance', async () => {
    const user = await givenUser(a);
    expect(await status(a, user.token)).toBe(200);
    expect(await status(b, user.token)).toBe(200); // cached on B

    await cluster.db.knex('users').where('id', user.id).delete();

    await answersWithin(a, 401, () => status(a, user.token), 'the deleted user refused');
    await answersWithin(b, 401, () => status(b, user.token), 'the deleted user refused');
    const res = await b.request.get('/orders').set(bearer(user.token));
    expect(res.body).toEqual({ status: 'error', error: { code: 'ACCOUNT_NOT_FOUND', message: 'This account no longer exists' } });
  });

  test('when an admin is demoted, then admin routes answer 403 on every instance while their token still works as a user', async () => {
    const admin = await givenAdmin(a);
    expect(await createsProduct(a, admin.token)).toBe(201);
    expect(await createsProduct(b, admin.token)).toBe(201);

    await setRole(cluster.db.knex, admin.email, 'user');

    await answersWithin(a, 403, () => createsProduct(a, admin.token), 'the demoted admin refused');
    await answersWithin(b, 403, () => createsProduct(b, admin.token), 'the demoted admin refused');
    expect(await status(b, admin.token)).toBe(200);
  });

  test('when a user is promoted, then the same token reaches admin routes', async () => {
    const user = await givenUser(a);
    expect(await createsProduct(b, user.token)).toBe(403);
    await setRole(cluster.db.knex, user.email, 'admin');
    await answersWithin(b, 201, () => createsProduct(b, user.token), 'the promoted user allowed');
  });
});

describe('POST /auth/logout', () => {
  test('when a user logs out, then that token gets 401 TOKEN_REVOKED at once here and within 5 s elsewhere, and their other tokens keep working', async () => {
    const user = await registerAndLogin(a);
    const other = await login(a, user);
    expect(await status(b, user.token)).toBe(200);

    const res = await a.request.post('/auth/logout').set(bearer(user.token));
    expect(res.status).toBe(204);
    expect(res.text).toBe('');

    const after = await a.request.get('/orders').set(bearer(user.token));
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ status: 'error', error: { code: 'TOKEN_REVOKED', message: 'Token has been revoked' } });
    await answersWithin(b, 401, () => status(b, user.token), 'the logged-out token refused');
    expect(await status(a, other)).toBe(200);
    expect(await status(b, other)).toBe(200);
    expect((await a.request.post('/auth/logout').set(bearer(user.token))).status).toBe(401);
  });

  test('when a token signed before tokens had ids logs out, then it is revoked too, and until then it works', async () => {
    const user = await givenUser(a);
    const legacy = jwt.sign({ email: user.email, role: user.role }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: user.id, expiresIn: 600 });
    expect(jwt.decode(legacy)).not.toHaveProperty('jti');
    expect(await status(a, legacy)).toBe(200);

    expect((await a.request.post('/auth/logout').set(bearer(legacy))).status).toBe(204);
    expect(await status(a, legacy)).toBe(401);
    expect(await status(a, user.token)).toBe(200);
  });

  test('when logging out without a token, then 401', async () => {
    expect((await a.request.post('/auth/logout')).status).toBe(401);
  });
});

describe('revoking every token', () => {
  test('when a user logs out everywhere, then every token they hold gets 401 on both instances, and a new login works', async () => {
    const user = await registerAndLogin(a);
    const second = await login(a, user);
    const legacy = jwt.sign({ email: user.email, role: 'user' }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: user.id, expiresIn: 600 });
    for (const token of [user.token, second, legacy]) expect(await status(b, token)).toBe(200);

    expect((await a.request.post('/auth/logout-all').set(bearer(second))).status).toBe(204);

    for (const token of [user.token, second, legacy]) {
      expect(await status(a, token)).toBe(401);
      await answersWithin(b, 401, () => status(b, token), 'every token refused');
    }
    const fresh = await login(a, user);
    expect(await status(b, fresh)).toBe(200);
  });

  test("when an admin revokes a user's tokens, then all of them get 401; a plain user may not, and an unknown id is 404", async () => {
    const admin = await givenAdmin(a);
    const user = await registerAndLogin(a);
    const second = await login(a, user);

    expect((await a.request.post(`/users/${user.id}/revoke-tokens`).set(bearer(second))).status).toBe(403);
    const unknown = await a.request.post('/users/00000000-0000-4000-8000-000000000000/revoke-tokens').set(bearer(admin.token));
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown)).toBe('USER_NOT_FOUND');

    expect((await a.request.post(`/users/${user.id}/revoke-tokens`).set(bearer(admin.token))).status).toBe(204);
    for (const token of [user.token, second]) {
      expect(errorCode(await a.request.get('/orders').set(bearer(token)))).toBe('TOKEN_REVOKED');
      await answersWithin(b, 401, () => status(b, token), 'every token refused');
    }
    expect(await status(a, admin.token)).toBe(200);
  });
});

describe('disabled accounts', () => {
  test('when a user is disabled, then their tokens get 401 ACCOUNT_DISABLED and login is refused; enabled again, they can log in but old tokens stay revoked', async () => {
    const user = await registerAndLogin(a);
    expect(await status(b, user.token)).toBe(200);

    await setDisabled(cluster.db.knex, user.email, true);

    await answersWithin(b, 401, () => status(b, user.token), 'the disabled user refused');
    expect(errorCode(await b.request.get('/orders').set(bearer(user.token)))).toBe('ACCOUNT_DISABLED');
    const refused = await a.request.post('/auth/login').send({ email: user.email, password: user.password });
    expect(refused.status).toBe(401);
    expect(errorCode(refused)).toBe('ACCOUNT_DISABLED');
    const wrongPassword = await a.request.post('/auth/login').send({ email: user.email, password: `${user.password}-wrong` });
    expect(errorCode(wrongPassword)).toBe('INVALID_CREDENTIALS');

    await setDisabled(cluster.db.knex, user.email, false);
    const fresh = await login(b, user);
    expect(await status(a, fresh)).toBe(200);
    expect(errorCode(await b.request.get('/orders').set(bearer(user.token)))).toBe('TOKEN_REVOKED');
  });
});

describe('when notifications are lost', () => {
  /** Makes a change the triggers do not see: nothing is NOTIFYed. */
  async function silently(change: (trx: Knex.Transaction) => Promise<unknown>): Promise<void> {
    await cluster.db.knex.transaction(async (trx) => {
      await trx.raw('set local session_replication_role = replica');
      await change(trx);
    });
  }

  test('when a change is made without a notification, then an instance with a TTL under 5 s still applies it within 5 s (and one relying on notifications alone does not)', async () => {
    const c = await cluster.start({ ROLES: 'api', AUTH_STATE_TTL_MS: '1000' });
    try {
      const user = await givenUser(a);
      expect(await status(b, user.token)).toBe(200);
      expect(await status(c, user.token)).toBe(200);

      await silently((trx) => revokeAllTokens(trx, user.id));

      await eventually(async () => (await status(c, user.token)) === 401, 'the TTL to expire the cached account', CONVERGENCE_MS);
      expect(await status(b, user.token)).toBe(200);
    } finally {
      await c.stop();
    }
  });

  test('when an account is enabled and an instance has not heard of it, then a token signed after its last read is checked against a fresh read, and old tokens stay refused', async () => {
    const user = await registerAndLogin(a);
    await setDisabled(cluster.db.knex, user.email, true);
    await answersWithin(b, 401, () => status(b, user.token), 'the disabled user refused');

    await silently((trx) => setDisabled(trx, user.email, false));
    const fresh = await login(a, user);

    // B still holds the account as disabled (no notification, TTL far away); the new token is newer than that.
    expect(await status(b, fresh)).toBe(200);
    expect(errorCode(await b.request.get('/orders').set(bearer(user.token)))).toBe('TOKEN_REVOKED');
  });

  test('when the listening connection is lost and comes back, then the instance drops every cached account (changes made meanwhile may have been missed)', async () => {
    const user = await givenUser(a);
    expect(await status(b, user.token)).toBe(200);
    await silently((trx) => revokeAllTokens(trx, user.id));
    expect(await status(b, user.token)).toBe(200);

    const admin = new pg.Client({ connectionString: cluster.db.url });
    await admin.connect();
    try {
      const killed = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = 'order-ledger-auth-listener' and query ilike $1`,
        [`%listen ${AUTH_CHANNEL}%`],
      );
      expect(killed.rowCount).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.end();
    }
    await answersWithin(b, 401, () => status(b, user.token), 'the revoked tokens refused after the listener came back');
  });
});

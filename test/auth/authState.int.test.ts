import { randomUUID } from 'node:crypto';
import { revokeToken, setRole } from '../../src/commands/accounts/accounts';
import { AuthState } from '../../src/infra/auth/authState';
import { createLogger } from '../../src/infra/logger';
import { createUser } from '../../src/commands/accounts/users';
import { eventually } from '../support/realtimeHarness';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

let db: TestDatabase;
let state: AuthState;
let queries = 0;
const countUsers = (query: { sql: string }): void => {
  if (/from "users"/.test(query.sql)) queries += 1;
};

async function aUser(): Promise<string> {
  const user = await createUser(db.knex, { email: `u-${randomUUID().slice(0, 8)}@example.test`, password: `pw-${randomUUID()}`, role: 'user' }, { bcryptRounds: 4 });
  return user.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  db.knex.on('query', countUsers);
});

beforeEach(async () => {
  state = new AuthState({ knex: db.knex, connectionString: db.url, ttlMs: 60_000, logger: createLogger('silent') });
  await state.start();
  queries = 0;
});

afterEach(async () => {
  await state.close();
});

afterAll(async () => {
  await db.drop();
});

describe('AuthState', () => {
  test('when a user makes many requests, then their account is read once: concurrent misses share one query and later ones hit the cache', async () => {
    const id = await aUser();
    queries = 0;
    const first = await Promise.all(Array.from({ length: 20 }, () => state.get(id)));
    for (let i = 0; i < 50; i++) await state.get(id);
    expect(queries).toBe(1);
    expect(first[0]).toMatchObject({ id, role: 'user', disabled: false, tokenVersion: 0 });
    expect(await state.get(randomUUID())).toBeUndefined();
  });

  test('when the account changes anywhere, then the notification drops the cached copy and listeners hear of the user', async () => {
    const id = await aUser();
    const email = (await state.get(id))!.email;
    const heard: unknown[] = [];
    state.onChange((change) => heard.push(change));

    await setRole(db.knex, email, 'admin');

    await eventually(() => heard.some((c) => Array.isArray(c) && c.includes(id)), 'the notification');
    expect((await state.get(id))!.role).toBe('admin');
  });

  test('when a token is revoked, then the account lists it until it expires', async () => {
    const id = await aUser();
    await revokeToken(db.knex, { userId: id, tokenId: 'gone-jti', expiresAt: Math.floor(Date.now() / 1000) + 600 });
    await revokeToken(db.knex, { userId: id, tokenId: 'expired-jti', expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const [account] = [(await state.refresh([id])).get(id)];
    expect([...account!.revokedTokens]).toEqual(['gone-jti']);
  });

  test('when a change is announced while the account is being read, then that answer is used once but not cached', async () => {
    const id = await aUser();
    // Hold the users table so the read is in flight when the announcement comes.
    const trx = await db.knex.transaction();
    let reading: Promise<unknown> | undefined;
    try {
      await trx.raw('lock table users in access exclusive mode');
      reading = state.get(id);
      await eventually(() => queries === 1, 'the read to be sent');
      state.invalidate([id]);
    } finally {
      await trx.commit();
    }
    await reading;
    await state.get(id);
    expect(queries).toBe(2);
  });
});

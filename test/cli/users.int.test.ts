import { bearer, givenAdmin, givenUser, startTestApp, type TestApp } from '../support/apiHarness';
import { client, connected, eventually } from '../support/realtimeHarness';
import { expectOneLineFailure, runCli } from './cliHarness';

// A change made with the CLI must reach the running API within this bound.
const CONVERGENCE_MS = 5000;

describe('order-ledger users', () => {
  let app: TestApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    app = await startTestApp();
    env = { DATABASE_URL: app.db.url };
  });

  afterAll(async () => {
    await app.stop();
  });

  const createsProduct = async (token: string): Promise<number> =>
    (
      await app.request
        .post('/products')
        .set(bearer(token))
        .send({ sku: `SKU-${Math.random().toString(36).slice(2, 10)}`, name: 'X', unitAmount: 100, currency: 'USD' })
    ).status;
  const listsOrders = async (token: string): Promise<number> => (await app.request.get('/orders').set(bearer(token))).status;

  it('when an admin is demoted with set-role, then the running API refuses them admin routes within 5 s, and promoting them again restores it', async () => {
    const admin = await givenAdmin(app);
    expect(await createsProduct(admin.token)).toBe(201);

    const run = await runCli(['users', 'set-role', admin.email.toUpperCase(), 'user'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`updated ${admin.email} (${admin.id}): role user, enabled\n`);
    await eventually(async () => (await createsProduct(admin.token)) === 403, 'the demotion', CONVERGENCE_MS);

    const back = await runCli(['users', 'set-role', admin.email, 'admin', '--json'], env);
    expect(JSON.parse(back.stdout)).toEqual({ id: admin.id, email: admin.email, role: 'admin', disabled: false, tokenVersion: 0 });
    await eventually(async () => (await createsProduct(admin.token)) === 201, 'the promotion', CONVERGENCE_MS);
  });

  it('when a user is disabled, then sign-in is refused, their token gets 401 and their socket is disconnected; enabled again, they can sign in', async () => {
    const user = await givenUser(app);
    const socket = client(app.url, user.token);
    await connected(socket);
    const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    try {
      const run = await runCli(['users', 'disable', user.email], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`disabled ${user.email} (${user.id}): role user, disabled\n`);

      await eventually(async () => (await listsOrders(user.token)) === 401, 'the token refused', CONVERGENCE_MS);
      expect(await gone).toBe('io server disconnect');
      const login = await app.request.post('/auth/login').send({ email: user.email, password: user.password });
      expect(login.status).toBe(401);
      expect((login.body as { error: { code: string } }).error.code).toBe('ACCOUNT_DISABLED');

      expect((await runCli(['users', 'enable', user.email], env)).code).toBe(0);
      const again = await app.request.post('/auth/login').send({ email: user.email, password: user.password });
      expect(again.status).toBe(200);
      expect(await listsOrders((again.body as { token: string }).token)).toBe(200);
      expect(await listsOrders(user.token)).toBe(401);
    } finally {
      socket.disconnect();
    }
  });

  it('when revoke-tokens is run, then every token the user held gets 401 and new sign-ins work', async () => {
    const user = await givenUser(app);
    const run = await runCli(['users', 'revoke-tokens', user.email, '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ id: user.id, tokenVersion: 1 });
    await eventually(async () => (await listsOrders(user.token)) === 401, 'the token refused', CONVERGENCE_MS);
    const login = await app.request.post('/auth/login').send({ email: user.email, password: user.password });
    expect(await listsOrders((login.body as { token: string }).token)).toBe(200);
  });

  it('when the email is unknown or the role is not one we have, then it fails with one line and changes nothing', async () => {
    expect(expectOneLineFailure(await runCli(['users', 'disable', 'nobody@example.test'], env))).toBe('order-ledger: No user with email nobody@example.test (USER_NOT_FOUND)');
    const user = await givenUser(app);
    const badRole = await runCli(['users', 'set-role', user.email, 'root'], env);
    expect(expectOneLineFailure(badRole)).toBe("error: command-argument value 'root' is invalid for argument 'role'. expected user or admin");
    expect(await app.db.knex('users').where('id', user.id).first('role')).toEqual({ role: 'user' });
  });
});

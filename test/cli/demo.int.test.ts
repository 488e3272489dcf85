import { spawn } from 'node:child_process';
import { demoProducts } from '../../src/cli/demo';
import { passwordProblem } from '../../src/commands/accounts/passwordPolicy';
import { createUser } from '../../src/commands/accounts/users';
import { startTestApp, type TestApp } from '../support/apiHarness';
import { createCliLedger, expectOneLineFailure, runCli, type CliLedger } from './cliHarness';

interface DemoJson {
  changed: boolean;
  admin: { id: string; email: string; created: boolean; password?: string };
  products: Array<{ id: string; sku: string; name: string; unitAmount: number; currency: string; active: boolean; created: boolean }>;
  baseUrl: string;
  next: string[];
}

function parseDemo(stdout: string): DemoJson {
  return JSON.parse(stdout) as DemoJson;
}

/** Runs shell lines as a user pasting them would, in their own process group so a hang can be killed whole. */
function runShell(lines: readonly string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', lines.join('\n')], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('order-ledger demo, against a running server', () => {
  let app: TestApp;
  let env: Record<string, string>;
  let first: DemoJson;

  beforeAll(async () => {
    app = await startTestApp();
    env = { DATABASE_URL: app.db.url };
    const run = await runCli(['demo', '--json', '--base-url', app.url], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    first = parseDemo(run.stdout);
  });

  afterAll(async () => {
    await app.stop();
  });

  it('when run on an empty database, then it creates an admin with a generated password the policy accepts, and products in EUR, USD and JPY', async () => {
    expect(first.changed).toBe(true);
    expect(first.admin).toMatchObject({ email: 'admin@shop.example', created: true, password: expect.any(String) });
    expect(passwordProblem(first.admin.password!, first.admin.email)).toBeUndefined();
    expect(first.products.map((p) => [p.sku, p.unitAmount, p.currency, p.created])).toEqual(demoProducts.map((p) => [p.sku, p.unitAmount, p.currency, true]));
    expect(new Set(first.products.map((p) => p.currency))).toEqual(new Set(['EUR', 'USD', 'JPY']));
    const row = (await app.db.knex('users').where({ id: first.admin.id }).first('role', 'password_hash')) as { role: string; password_hash: string };
    expect(row.role).toBe('admin');
    expect(row.password_hash).not.toContain(first.admin.password!);
  });

  it('when the demo has run, then the products are in the public catalog, in the listed order, and the admin can sign in', async () => {
    const catalog = await app.request.get('/products?limit=100');
    expect(catalog.status).toBe(200);
    const listed = (catalog.body as { data: Array<{ id: string; sku: string }> }).data;
    expect(listed.map((p) => [p.id, p.sku])).toEqual(first.products.map((p) => [p.id, p.sku]));

    const login = await app.request.post('/auth/login').send({ email: first.admin.email, password: first.admin.password });
    expect(login.status).toBe(200);
    expect(login.body.user).toEqual({ id: first.admin.id, email: 'admin@shop.example', role: 'admin' });
  });

  it('when it runs a second time, then it creates nothing, says so, and exits 0 with the same ids', async () => {
    const before = { users: await app.db.knex('users').select('*').orderBy('id'), products: await app.db.knex('products').select('*').orderBy('id') };
    const text = await runCli(['demo', '--base-url', app.url], env);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout).toMatch(/^Nothing to do: the demo admin and products are already there \(nothing was changed\)\.$/m);
    expect(text.stdout).not.toContain(first.admin.password!);
    for (const product of first.products) expect(text.stdout).toContain(product.id);

    const json = await runCli(['demo', '--json'], env);
    expect(json.code).toBe(0);
    const again = parseDemo(json.stdout);
    expect(again.changed).toBe(false);
    expect(again.admin).toEqual({ id: first.admin.id, email: 'admin@shop.example', created: false });
    expect(again.products.map((p) => [p.id, p.created])).toEqual(first.products.map((p) => [p.id, false]));
    const after = { users: await app.db.knex('users').select('*').orderBy('id'), products: await app.db.knex('products').select('*').orderBy('id') };
    expect(after).toEqual(before);
  });

  it('when the printed next commands are pasted into a shell, then a customer orders demo products and the admin ships the order', async () => {
    const shell = await runShell(first.next);
    expect(shell.stderr).toBe('');
    expect(shell.code).toBe(0);
    const orderId = /^order ([0-9a-f-]{36}):/m.exec(shell.stdout)?.[1];
    expect(orderId).toBeDefined();
    const order = (await app.db.knex('orders').where({ id: orderId }).first()) as { status: string; total_amount: string; currency: string; user_id: string };
    expect(order).toMatchObject({ status: 'DELIVERED', currency: 'EUR' });
    expect(Number(order.total_amount)).toBe(2 * 2490 + 3950);
    const customer = (await app.db.knex('users').where({ id: order.user_id }).first('email')) as { email: string };
    expect(customer.email).toBe('ada@example.com');
    // The history the last line printed: placed, paid, processing, shipped, delivered.
    expect(shell.stdout).toMatch(/"DELIVERED"/);
  });
});

describe('order-ledger demo, refusals', () => {
  let ledger: CliLedger;

  beforeAll(async () => {
    ledger = await createCliLedger();
  });

  afterAll(async () => {
    await ledger.close();
  });

  const counts = async (): Promise<{ users: string; products: string }> => ({
    users: ((await ledger.db.knex('users').count({ n: '*' }).first()) as { n: string }).n,
    products: ((await ledger.db.knex('products').count({ n: '*' }).first()) as { n: string }).n,
  });

  it('when the admin email belongs to a plain user, then it refuses with one line naming the way out and writes nothing', async () => {
    await createUser(ledger.db.knex, { email: 'shopper@shop.example', password: 'a long enough secret', role: 'user' }, { bcryptRounds: 4 });
    const run = await runCli(['demo', '--admin-email', 'shopper@shop.example'], ledger.env);
    expect(expectOneLineFailure(run)).toBe(
      'order-ledger: shopper@shop.example exists and is not an admin; pass another --admin-email, or promote it with `order-ledger users set-role shopper@shop.example admin`',
    );
    expect(await counts()).toEqual({ users: '1', products: '0' });
  });

  it('when the given password is weak, then it refuses before writing anything', async () => {
    const run = await runCli(['demo', '--admin-email', 'ops@shop.example', '--password-stdin'], ledger.env, { input: 'password\n' });
    expect(expectOneLineFailure(run)).toBe('order-ledger: refusing a weak password: password is one of the most common passwords');
    expect(await counts()).toEqual({ users: '1', products: '0' });
  });

  it('when a password is given, then the admin gets it and it is never printed; a later run with another password is refused', async () => {
    const run = await runCli(['demo', '--admin-email', 'ops@shop.example', '--password-stdin', '--json'], ledger.env, { input: 'brew-a-fresh-pot-42\n' });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('brew-a-fresh-pot-42');
    const result = parseDemo(run.stdout);
    expect(result.admin).toEqual({ id: expect.any(String), email: 'ops@shop.example', created: true });
    expect(result.next.join('\n')).toContain('<the admin password>');

    const same = await runCli(['demo', '--admin-email', 'ops@shop.example', '--admin-password', 'brew-a-fresh-pot-42'], ledger.env);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/^Nothing to do/m);

    const other = await runCli(['demo', '--admin-email', 'ops@shop.example', '--admin-password', 'another-good-one-7'], ledger.env);
    expect(expectOneLineFailure(other)).toBe(
      'order-ledger: ops@shop.example already exists with another password; demo never changes a password (pass another --admin-email, or leave out the password)',
    );
  });

  it('when the admin email is not an email, then it fails with one line', async () => {
    expect(expectOneLineFailure(await runCli(['demo', '--admin-email', 'nobody'], ledger.env))).toBe('order-ledger: --admin-email: email must be a valid email address');
  });
});

import bcrypt from 'bcrypt';
import { createCliLedger, expectOneLineFailure, runCli, type CliLedger } from './cliHarness';

describe('order-ledger admin create', () => {
  let ledger: CliLedger;

  beforeAll(async () => {
    ledger = await createCliLedger();
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when given a new email and a decent password, then it stores an admin with a bcrypt hash', async () => {
    const run = await runCli(['admin', 'create', '--email', 'Root@Example.com', '--password', 'correct horse battery', '--json'], ledger.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as { id: string; email: string; role: string };
    expect(created).toMatchObject({ email: 'root@example.com', role: 'admin' });
    const row = (await ledger.db.knex('users').where({ id: created.id }).first()) as { role: string; password_hash: string };
    expect(row.role).toBe('admin');
    expect(await bcrypt.compare('correct horse battery', row.password_hash)).toBe(true);
    expect(row.password_hash).toMatch(/^\$2[aby]\$04\$/); // BCRYPT_ROUNDS from the environment, as the server reads it
  });

  it('when the email exists in another case, then it refuses with one line', async () => {
    const run = await runCli(['admin', 'create', '--email', 'ROOT@example.COM', '--password', 'another good one'], ledger.env);
    expect(expectOneLineFailure(run)).toBe('order-ledger: An account with this email already exists (EMAIL_TAKEN)');
    expect(await ledger.db.knex('users').count({ n: '*' }).first()).toEqual({ n: '1' });
  });

  it.each([
    ['short', 'Xy7!a', /password must be 8 to 72 bytes/],
    ['too long for bcrypt', 'é'.repeat(40), /password must be 8 to 72 bytes \(UTF-8\); got 80/],
    ['a famous one', 'Password123', /refusing a weak password: password is one of the most common passwords/],
    ['a run', '12345678', /refusing a weak password/],
    ['the email name', 'ops-lead-2026', /refusing a weak password: password contains the email name/],
    ['the most common one', 'password', /refusing a weak password: password is one of the most common passwords/],
    ['one repeated character', '11111111', /refusing a weak password: password uses only one or two distinct characters/],
    ['with a tab', 'correct\thorse', /refusing a weak password: password must not contain control characters/],
  ])('when the password is %s, then it refuses with one line', async (_label, password, message) => {
    const run = await runCli(['admin', 'create', '--email', 'ops-lead@example.com', '--password', password], ledger.env);
    expect(expectOneLineFailure(run)).toMatch(message);
    expect(await ledger.db.knex('users').where({ email: 'ops-lead@example.com' }).first()).toBeUndefined();
  });

  it('when the password comes on stdin, then it never needs the command line', async () => {
    const run = await runCli(['admin', 'create', '--email', 'second@example.com', '--password-stdin'], ledger.env, { input: 'a long enough secret\n' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^created admin second@example\.com \([0-9a-f-]{36}\)$/m);
    const row = (await ledger.db.knex('users').where({ email: 'second@example.com' }).first()) as { password_hash: string };
    expect(await bcrypt.compare('a long enough secret', row.password_hash)).toBe(true);
  });

  it('when the password on stdin is made of NUL bytes, then it is refused like on the API', async () => {
    const run = await runCli(['admin', 'create', '--email', 'nul@example.com', '--password-stdin'], ledger.env, { input: `${'\u0000'.repeat(8)}\n` });
    expect(expectOneLineFailure(run)).toMatch(/refusing a weak password: password must not contain control characters/);
    expect(await ledger.db.knex('users').where({ email: 'nul@example.com' }).first()).toBeUndefined();
  });

  it('when the email is missing or not an email, then it fails with one line', async () => {
    expect(expectOneLineFailure(await runCli(['admin', 'create', '--password', 'whatever-long'], ledger.env))).toBe("error: required option '--email <email>' not specified");
    expect(expectOneLineFailure(await runCli(['admin', 'create', '--email', 'nobody', '--password', 'whatever-long'], ledger.env))).toContain(
      'email must be a valid email address',
    );
  });
});

import bcrypt from 'bcrypt';
import jwt from 'jsonwebtoken';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { bearer, givenAdmin, givenUser, registerAndLogin, startTestApp, TEST_JWT_SECRET, uniqueEmail, type TestApp } from '../support/apiHarness';

let app: TestApp;
const logLines: string[] = [];

beforeAll(async () => {
  // A plain pino logger (no redaction) so the log assertions catch anything we print at all.
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  app = await startTestApp({}, { logger });
});
afterAll(async () => {
  await app.stop();
});

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

describe('POST /auth/register', () => {
  it('when a new email and password are sent, then 201 returns id, lower-cased email and role user, and stores only a bcrypt hash', async () => {
    const email = uniqueEmail('Mixed.Case').replace('mixed', 'MiXeD');
    const password = 'correct horse battery';
    const res = await app.request.post('/auth/register').send({ email, password });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), email: email.toLowerCase(), role: 'user' });
    const row = (await app.db.knex('users').where('id', res.body.id).first()) as { password_hash: string; email: string };
    expect(row.password_hash).toMatch(/^\$2[aby]\$04\$/);
    expect(row.password_hash).not.toContain(password);
    expect(JSON.stringify(res.body)).not.toContain(row.password_hash);
  });

  it('when the email is already registered in another case, then 409 EMAIL_TAKEN and no second user', async () => {
    const email = uniqueEmail('dup');
    expect((await app.request.post('/auth/register').send({ email, password: 'password-1' })).status).toBe(201);

    const res = await app.request.post('/auth/register').send({ email: email.toUpperCase(), password: 'password-2' });

    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('EMAIL_TAKEN');
    const count = await app.db.knex('users').whereRaw('lower(email) = ?', [email]).count<{ count: string }[]>({ count: '*' });
    expect(Number(count[0]!.count)).toBe(1);
  });

  const varied = (bytes: number): string => 'Correct-Horse-Battery-Staple-9'.repeat(3).slice(0, bytes);

  it.each([
    ['7 ASCII bytes', 400, varied(7)],
    ['8 ASCII bytes', 201, varied(8)],
    ['72 ASCII bytes', 201, varied(72)],
    ['73 ASCII bytes', 400, varied(73)],
    ['4 two-byte characters (8 bytes)', 201, 'éàüß'],
    ['37 two-byte characters (74 bytes, under 72 characters)', 400, 'éàüß'.repeat(10).slice(0, 37)],
  ])('when the password is %s, then %i', async (_label, status, password) => {
    const res = await app.request.post('/auth/register').send({ email: uniqueEmail('pw'), password });
    expect(res.status).toBe(status);
    if (status === 400) {
      expect(errorCode(res)).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.body)).not.toContain(password);
    }
  });

  it.each([
    ['"password"', 'password', /one of the most common passwords/],
    ['"11111111"', '11111111', /one or two distinct characters/],
    ['"12345678"', '12345678', /plain run/],
    ['eight NUL bytes', '\u0000'.repeat(8), /control characters/],
    ['a tab inside', 'correct\thorse', /control characters/],
    ['the email name', 'weak-pw-owner!', /contains the email name/],
  ])('when the password is %s, then 400 names the rule and nobody is created', async (_label, password, message) => {
    const email = uniqueEmail('weak-pw-owner');
    const res = await app.request.post('/auth/register').send({ email, password: password.replace('weak-pw-owner', email.split('@')[0]!) });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'password', message: expect.stringMatching(message) })]);
    expect(await app.db.knex('users').where('email', email).first()).toBeUndefined();
  });

  it('when an admin creates an admin with a common password, then the same policy refuses it', async () => {
    const admin = await givenAdmin(app);
    const email = uniqueEmail('admin3');
    const res = await app.request.post('/auth/register').set(bearer(admin.token)).send({ email, password: 'password', role: 'admin' });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'password', message: 'password is one of the most common passwords' })]);
    expect(await app.db.knex('users').where('email', email).first()).toBeUndefined();
  });

  it('when an account is made in code with a weak password, then createUser refuses it with the same policy', async () => {
    await expect(givenUser(app, { password: '\u0000'.repeat(8) })).rejects.toMatchObject({ code: 'INVALID_PASSWORD', details: { rule: 'control-characters' } });
    await expect(givenUser(app, { password: 'iloveyou' })).rejects.toMatchObject({ code: 'INVALID_PASSWORD', details: { rule: 'common' } });
  });

  it.each([
    ['an invalid email', { email: 'not-an-email', password: 'password-1' }],
    ['no password', { email: 'x@example.test' }],
    ['an unknown field', { email: 'x@example.test', password: 'password-1', isAdmin: true }],
    ['an unknown role', { email: 'x@example.test', password: 'password-1', role: 'superuser' }],
    ['a password that is not a string', { email: 'x@example.test', password: 12345678 }],
  ])('when the body has %s, then 400 VALIDATION_FAILED', async (_label, body) => {
    const res = await app.request.post('/auth/register').send(body);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when role admin is asked for without a token, then 403 and nobody is created', async () => {
    const email = uniqueEmail('wannabe');
    const res = await app.request.post('/auth/register').send({ email, password: 'password-1', role: 'admin' });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('ADMIN_ROLE_REQUIRED');
    expect(await app.db.knex('users').where('email', email).first()).toBeUndefined();
  });

  it("when role admin is asked for with an ordinary user's token, then 403", async () => {
    const user = await givenUser(app);
    const res = await app.request.post('/auth/register').set(bearer(user.token)).send({ email: uniqueEmail(), password: 'password-1', role: 'admin' });
    expect(res.status).toBe(403);
  });

  it("when role admin is asked for with an admin's token, then 201 with role admin", async () => {
    const admin = await givenAdmin(app);
    const res = await app.request
      .post('/auth/register')
      .set(bearer(admin.token))
      .send({ email: uniqueEmail('admin2'), password: 'password-1', role: 'admin' });
    expect(res.status).toBe(201);
    expect(res.body.role).toBe('admin');
  });

  it('when the bearer token is invalid, then 401 even for a plain registration', async () => {
    const res = await app.request.post('/auth/register').set(bearer('garbage.token.here')).send({ email: uniqueEmail(), password: 'password-1' });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('INVALID_TOKEN');
  });
});

describe('POST /auth/login', () => {
  it('when the credentials are right, then 200 with an HS256 token that expires and works on a protected route', async () => {
    const email = uniqueEmail('login');
    const registered = await app.request.post('/auth/register').send({ email, password: 'password-1' });

    const res = await app.request.post('/auth/login').send({ email: email.toUpperCase(), password: 'password-1' });

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ token: expect.any(String), user: { id: registered.body.id, email, role: 'user' } });
    const decoded = jwt.decode(res.body.token, { complete: true })!;
    expect(decoded.header.alg).toBe('HS256');
    const payload = decoded.payload as jwt.JwtPayload;
    expect(payload.sub).toBe(registered.body.id);
    expect(payload.exp! - payload.iat!).toBe(app.runtime.config.JWT_EXPIRES_IN_SECONDS);
    expect((await app.request.get('/orders').set(bearer(res.body.token))).status).toBe(200);
  });

  it('when the password is wrong or the email unknown, then both answer 401 with the same body', async () => {
    const user = await givenUser(app);
    const wrongPassword = await app.request.post('/auth/login').send({ email: user.email, password: 'not-the-password' });
    const unknownEmail = await app.request.post('/auth/login').send({ email: uniqueEmail('ghost'), password: 'not-the-password' });

    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(wrongPassword.body).toEqual({ status: 'error', error: { code: 'INVALID_CREDENTIALS', message: 'Invalid email or password' } });
    expect(unknownEmail.body).toEqual(wrongPassword.body);
  });

  it('when the password is longer than 72 bytes but starts with the right one, then 401', async () => {
    const password = 'Correct-Horse-Battery-Staple-9'.repeat(3).slice(0, 72);
    const user = await givenUser(app, { password });
    const res = await app.request.post('/auth/login').send({ email: user.email, password: `${password}extra` });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('INVALID_CREDENTIALS');
  });

  it('when an account made before the policy has a password of NUL bytes, then no password containing NUL logs in', async () => {
    // bcrypt stops reading at NUL: its hash of eight NULs matches "\u0000" and the empty password.
    const email = uniqueEmail('nul');
    const hash = await bcrypt.hash('\u0000'.repeat(8), 4);
    await app.db.knex('users').insert({ id: randomUUID(), email, password_hash: hash, role: 'user' });
    expect(await bcrypt.compare('\u0000', hash)).toBe(true);

    for (const password of ['\u0000', '\u0000'.repeat(8), 'x\u0000']) {
      const res = await app.request.post('/auth/login').send({ email, password });
      expect({ password: JSON.stringify(password), status: res.status, code: errorCode(res) }).toEqual({
        password: JSON.stringify(password),
        status: 401,
        code: 'INVALID_CREDENTIALS',
      });
    }
  });

  it.each([
    ['an unknown field', { email: 'x@example.test', password: 'password-1', role: 'admin' }],
    ['no email', { password: 'password-1' }],
    ['an empty password', { email: 'x@example.test', password: '' }],
  ])('when the body has %s, then 400', async (_label, body) => {
    const res = await app.request.post('/auth/login').send(body);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('VALIDATION_FAILED');
  });

  it('when a user registers and logs in through the API, then passwords, hashes and tokens never reach the logs', async () => {
    const before = logLines.length;
    const user = await registerAndLogin(app, { password: `secret-${randomUUID()}` });
    await app.request.post('/auth/login').send({ email: user.email, password: `${user.password}-wrong` });
    await app.request.get('/orders').set(bearer(user.token));
    const row = (await app.db.knex('users').where('id', user.id).first()) as { password_hash: string };

    const logs = logLines.slice(before).join('\n');
    expect(logs).toContain('/auth/login'); // the requests were logged
    expect(logs).not.toContain(user.password);
    expect(logs).not.toContain(row.password_hash);
    expect(logs).not.toContain(user.token);
  });
});

describe('bearer tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (user: { id: string; email: string }) => ({ sub: user.id, email: user.email, role: 'admin' });

  it('when a token says alg none, then 401 INVALID_TOKEN', async () => {
    const user = await givenUser(app);
    const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ ...claims(user), exp: now() + 600 })}.`;
    const res = await app.request.get('/orders').set(bearer(token));
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('INVALID_TOKEN');
  });

  it('when a token is signed with another secret, then 401 INVALID_TOKEN', async () => {
    const user = await givenUser(app);
    const token = jwt.sign(claims(user), 'some-other-secret-that-is-long-enough-000', { algorithm: 'HS256', expiresIn: 600 });
    const res = await app.request.get('/orders').set(bearer(token));
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('INVALID_TOKEN');
  });

  it('when a token uses another HMAC algorithm with our secret, then 401 INVALID_TOKEN', async () => {
    const user = await givenUser(app);
    const token = jwt.sign(claims(user), TEST_JWT_SECRET, { algorithm: 'HS512', expiresIn: 600 });
    const res = await app.request.get('/orders').set(bearer(token));
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('INVALID_TOKEN');
  });

  it('when a token has expired, then 401 TOKEN_EXPIRED', async () => {
    const user = await givenUser(app);
    const token = jwt.sign({ ...claims(user), exp: now() - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    const res = await app.request.get('/orders').set(bearer(token));
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('TOKEN_EXPIRED');
  });

  it('when a validly signed token has no expiry or an unknown role, then 401 INVALID_TOKEN', async () => {
    const user = await givenUser(app);
    const noExpiry = jwt.sign(claims(user), TEST_JWT_SECRET, { algorithm: 'HS256' });
    const badRole = jwt.sign({ ...claims(user), role: 'root' }, TEST_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 });
    for (const token of [noExpiry, badRole]) {
      const res = await app.request.get('/orders').set(bearer(token));
      expect(res.status).toBe(401);
      expect(errorCode(res)).toBe('INVALID_TOKEN');
    }
  });

  it('when the Authorization header is not "Bearer <token>" or missing, then 401', async () => {
    const malformed = await app.request.get('/orders').set('Authorization', 'Token abc');
    const missing = await app.request.get('/orders');
    expect(malformed.status).toBe(401);
    expect(errorCode(malformed)).toBe('INVALID_TOKEN');
    expect(missing.status).toBe(401);
    expect(errorCode(missing)).toBe('UNAUTHORIZED');
  });

  it('when an ordinary user calls an admin route, then 403 FORBIDDEN', async () => {
    const user = await givenUser(app);
    const res = await app.request.post('/products').set(bearer(user.token)).send({ sku: 'X-1', name: 'X', unitAmount: 1, currency: 'USD' });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('FORBIDDEN');
  });
});

describe('login timing', () => {
  let slow: TestApp;
  beforeAll(async () => {
    // Enough rounds that a skipped bcrypt comparison would stand out from request noise.
    slow = await startTestApp({ BCRYPT_ROUNDS: '10' });
  });
  afterAll(async () => {
    await slow.stop();
  });

  const timeLogin = async (email: string): Promise<number> => {
    const started = process.hrtime.bigint();
    const res = await slow.request.post('/auth/login').send({ email, password: 'wrong-password' });
    expect(res.status).toBe(401);
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  it('when the email is unknown, then a failed login takes about as long as for a known email', async () => {
    const user = await givenUser(slow);
    await timeLogin(user.email); // warm up connections and the dummy hash
    await timeLogin(uniqueEmail('ghost'));
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await timeLogin(user.email));
      unknown.push(await timeLogin(uniqueEmail('ghost')));
    }
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.25);
    expect(ratio).toBeLessThan(4);
  });
});

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';
import { eventually } from '../support/paymentsHarness';
import { runCli } from '../cli/cliHarness';

/**
 * Proof by search: after erasure, nothing we store (any table, the events table's raw bytes, our
 * Redis keys, the mail outbox) holds the customer's email, name, phone or address in clear, and a
 * copy of the events taken before erasure cannot be opened any more.
 */
const outbox = mkdtempSync(path.join(tmpdir(), 'ol-outbox-'));
const masterKey = randomBytes(32).toString('base64');
let app: TestApp;
let alice: TestUser;
let admin: TestUser;

const tag = randomBytes(4).toString('hex');
const address = {
  name: `Zebedee Quixworth ${tag}`,
  line1: `77 Xylophone Lane ${tag}`,
  line2: `Flat ${tag}B`,
  city: `Quuxbury${tag}`,
  postalCode: `QX9 ${tag}`,
  country: 'gb',
  phone: `+44 7700 ${parseInt(tag, 16) % 1000000}`,
};
const profileAddress = { ...address, line1: `3 Default Row ${tag}`, line2: undefined };
const contactEmail = `parcels-${tag}@example.org`;

beforeAll(async () => {
  app = await startTestApp({ ROLES: 'api,projector,notifier,worker', MAIL_OUTBOX_DIR: outbox, PII_MASTER_KEY: masterKey });
  alice = await givenUser(app, { email: `alice-${tag}@example.com` });
  admin = await givenAdmin(app);
}, 30_000);

afterAll(async () => {
  await app?.stop();
  rmSync(outbox, { recursive: true, force: true });
});

const needles = (): string[] => [alice.email, address.name, address.line1, address.line2, address.city, address.postalCode, address.phone, profileAddress.line1, contactEmail];

function found(haystack: string): string[] {
  const lower = haystack.toLowerCase();
  return needles().filter((needle) => lower.includes(needle.toLowerCase()));
}

async function everyTableAsText(): Promise<Record<string, string>> {
  const knex = app.runtime.deps.knex;
  const tables = (await knex('pg_tables').where('schemaname', 'public').select('tablename')) as { tablename: string }[];
  const dump: Record<string, string> = {};
  for (const { tablename } of tables) {
    const rows = (await knex.raw(`select t::text as row from ?? t`, [tablename])) as { rows: { row: string }[] };
    dump[tablename] = rows.rows.map((r) => r.row).join('\n');
  }
  return dump;
}

/** The events table's files as PostgreSQL wrote them (heap and TOAST), after a checkpoint flushed them. */
async function eventsRawBytes(): Promise<string> {
  const knex = app.runtime.deps.knex;
  await knex.raw('checkpoint');
  const relations = (await knex.raw(
    `select pg_relation_filepath(c.oid) as heap, pg_relation_filepath(c.reltoastrelid) as toast from pg_class c where c.relname = 'events' and c.relkind = 'r'`,
  )) as { rows: { heap: string; toast: string | null }[] };
  const { heap, toast } = relations.rows[0]!;
  let bytes = '';
  for (const file of [heap, toast].filter((f): f is string => f !== null)) {
    const read = (await knex.raw(`select pg_read_binary_file(?) as b`, [file])) as { rows: { b: Buffer }[] };
    bytes += read.rows[0]!.b.toString('latin1');
  }
  return bytes;
}

async function redisDump(): Promise<string> {
  const redis = app.runtime.deps.redis;
  const prefix = app.runtime.deps.config.REDIS_KEY_PREFIX;
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push(String(await redis.get(key)));
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
    cursor = next;
  } while (cursor !== '0');
  return parts.join('\n');
}

const outboxText = (): string =>
  readdirSync(outbox)
    .map((f) => readFileSync(path.join(outbox, f), 'latin1'))
    .join('\n');

describe('personal data and erasure', () => {
  let withAddress: string;
  let withDefault: string;
  let eventsBackup: string;

  it('when an order carries a shipping address, then owner and admin see it, another customer cannot, and the events hold it only sealed', async () => {
    const product = await givenProduct(app);
    const profile = await app.request.put('/users/me/shipping-address').set(bearer(alice.token)).send({ shippingAddress: profileAddress });
    expect(profile.status).toBe(200);
    expect(profile.body.defaultShippingAddress).toMatchObject({ line1: profileAddress.line1, country: 'GB' });

    const placed = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address, contactEmail });
    expect(placed.status).toBe(201);
    withAddress = placed.body.data.order.id;
    expect(placed.body.data.order).toMatchObject({ personalData: 'PRESENT', shippingAddress: { ...address, country: 'GB' }, contactEmail });

    const second = await app.request
      .post('/orders')
      .set(bearer(alice.token))
      .send({ items: [{ productId: product.id, quantity: 2 }], paymentMethod: 'MANUAL' });
    withDefault = second.body.data.order.id;
    expect(second.body.data.order.shippingAddress).toMatchObject({ line1: profileAddress.line1 });

    const asAdmin = await app.request.get(`/orders/${withAddress}`).set(bearer(admin.token));
    expect(asAdmin.body.data.shippingAddress.name).toBe(address.name);
    const bob = await givenUser(app);
    expect((await app.request.get(`/orders/${withAddress}`).set(bearer(bob.token))).status).toBe(404);

    const events = (await app.runtime.deps.knex.raw(`select t::text as row from events t`)) as { rows: { row: string }[] };
    eventsBackup = events.rows.map((r) => r.row).join('\n');
    expect(eventsBackup).toContain(withAddress); // the scan sees the event
    expect(eventsBackup).toMatch(/personalData""?: ""?pii1\./);
    expect(found(eventsBackup)).toEqual([]);
    expect(found(await eventsRawBytes())).toEqual([]);
  });

  it('when the order-placed email is written, then it goes to the contact email and shows the address', async () => {
    const text = await eventually(
      async () => outboxText(),
      (t) => t.includes(address.line1),
      15_000,
    );
    expect(text).toContain(contactEmail);
  });

  it('when the export is asked for, then it holds the profile, the orders with history and both addresses', async () => {
    const res = await app.request.get('/users/me/data').set(bearer(alice.token));
    expect(res.status).toBe(200);
    expect(res.body.profile.email).toBe(alice.email);
    expect(res.body.orders.map((o: { id: string }) => o.id).sort()).toEqual([withAddress, withDefault].sort());
    expect(res.body.orders[0].history.length).toBeGreaterThan(0);
    expect(res.body.addresses.map((a: { line1: string }) => a.line1).sort()).toEqual([address.line1, profileAddress.line1].sort());
    expect(JSON.stringify(res.body)).not.toMatch(/customer_data_keys|wrapped|pii1\./);
  });

  it('when the customer erases their data with a wrong password, then nothing changes', async () => {
    const res = await app.request.delete('/users/me').set(bearer(alice.token)).send({ password: 'not-my-password' });
    expect(res.status).toBe(401);
    expect((await app.request.get(`/orders/${withAddress}`).set(bearer(alice.token))).body.data.personalData).toBe('PRESENT');
  });

  it('when the customer erases their data, then open orders are cancelled, nothing personal is left in clear anywhere, and the old events cannot be opened', async () => {
    const res = await app.request.delete('/users/me').set(bearer(alice.token)).send({ password: alice.password });
    expect(res.status).toBe(200);
    expect(res.body.cancelledOrderIds.sort()).toEqual([withAddress, withDefault].sort());
    expect(res.body.outboxFilesRemoved).toBeGreaterThan(0);
    expect((await app.request.get('/orders').set(bearer(alice.token))).status).toBe(401);

    const order = await eventually(
      async () => (await app.request.get(`/orders/${withAddress}`).set(bearer(admin.token))).body.data,
      (o: { personalData: string }) => o.personalData === 'ERASED',
    );
    expect(order).toMatchObject({ status: 'CANCELLED', shippingAddress: null, contactEmail: null, totalAmount: expect.any(Number) });
    // The row reads ERASED as soon as the key is gone; the history shows the erasure once the
    // projector has applied its event (the erasure answer carries no position to wait for).
    const history = await eventually(
      async () => ((await app.request.get(`/orders/${withAddress}/history`).set(bearer(admin.token))).body as { data: Array<{ eventType: string }> }).data,
      (rows) => rows.length >= 3,
    );
    expect(history.map((h) => h.eventType)).toEqual(['OrderPlaced', 'OrderCancelled', 'CustomerDataErased']);

    // Let the notifier and the email worker finish with the cancellations (no email: the account is erased).
    await eventually(
      async () => (await app.runtime.deps.knex('email_sends').whereIn('order_id', [withAddress, withDefault]).whereNull('sent_at').whereNull('skipped_reason')).length,
      (pending) => pending === 0,
    );
    const tables = await everyTableAsText();
    expect(Object.keys(tables)).toEqual(expect.arrayContaining(['events', 'orders', 'order_history', 'users', 'customer_data_keys', 'email_sends', 'idempotency_keys']));
    const hitsByTable = Object.entries(tables).map(([table, text]) => [table, found(text)] as const);
    expect(Object.fromEntries(hitsByTable.filter(([, hits]) => hits.length > 0))).toEqual({});
    expect(found(await eventsRawBytes())).toEqual([]);
    expect(found(await redisDump())).toEqual([]);
    expect(found(outboxText())).toEqual([]);

    // The backup taken before erasure: its sealed values no longer open, because the key is gone.
    expect(await app.runtime.deps.dataKeys.existingKeys([alice.id])).toEqual(new Map());
    await expect(app.runtime.deps.dataKeys.keyFor(alice.id)).rejects.toMatchObject({ code: 'CUSTOMER_DATA_ERASED' });
    expect(found(eventsBackup)).toEqual([]);
  }, 30_000);

  it('when the read models are rebuilt from the events and the ledger verified, then the erased orders read as erased and the audit is clean', async () => {
    const env = { ENV_FILE: 'none', DATABASE_URL: app.db.url, PII_MASTER_KEY: masterKey };
    const rebuilt = await runCli(['projections', 'rebuild'], env);
    expect(rebuilt.code).toBe(0);
    const verified = await runCli(['audit', 'verify'], env);
    expect(verified.stderr).toContain('verify: 6/6 events');
    expect(verified.code).toBe(0);
    const order = (await app.request.get(`/orders/${withAddress}`).set(bearer(admin.token))).body.data;
    expect(order).toMatchObject({ personalData: 'ERASED', shippingAddress: null, status: 'CANCELLED' });
  }, 60_000);
});

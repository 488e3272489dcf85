import { randomBytes } from 'node:crypto';
import { bearer, givenProduct, givenUser, startTestApp, type TestApp } from '../support/apiHarness';
import { runCli } from '../cli/cliHarness';
import { eventually } from '../support/paymentsHarness';

const oldKey = randomBytes(32).toString('base64');
const newKey = randomBytes(32).toString('base64');
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ PII_MASTER_KEY: oldKey });
}, 30_000);

afterAll(async () => {
  await app?.stop();
});

const address = { name: 'Grace Hopper', line1: '1 Navy Yard', city: 'Arlington', postalCode: '22202', country: 'US' };

describe('order-ledger privacy', () => {
  it('when the master key is rotated, then every data key is rewrapped, the events are untouched and orders still open with the new key alone', async () => {
    const carol = await givenUser(app);
    const product = await givenProduct(app);
    const placed = await app.request
      .post('/orders')
      .set(bearer(carol.token))
      .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address });
    expect(placed.status).toBe(201);
    const knex = app.runtime.deps.knex;
    const eventsBefore = (await knex.raw('select t::text as row from events t order by position')) as { rows: unknown[] };
    const env = { ENV_FILE: 'none', DATABASE_URL: app.db.url };

    const withoutOld = await runCli(['privacy', 'rotate-master-key'], { ...env, PII_MASTER_KEY: newKey });
    expect(withoutOld.code).toBe(1);
    expect(withoutOld.stderr).toMatch(/PII_PREVIOUS_MASTER_KEYS/);

    const rotated = await runCli(['privacy', 'rotate-master-key', '--json'], { ...env, PII_MASTER_KEY: newKey, PII_PREVIOUS_MASTER_KEYS: oldKey });
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toEqual({ rewrapped: 1, total: 1 });
    const again = await runCli(['privacy', 'rotate-master-key', '--json'], { ...env, PII_MASTER_KEY: newKey });
    expect(JSON.parse(again.stdout)).toEqual({ rewrapped: 0, total: 1 });
    expect((await knex.raw('select t::text as row from events t order by position')) as { rows: unknown[] }).toEqual(eventsBefore);

    // A second app with the new key alone reads the order placed under the old one.
    const rotatedApp = await startTestApp({ PII_MASTER_KEY: newKey, DATABASE_URL: app.db.url, ROLES: 'api' });
    try {
      const order = await rotatedApp.request.get(`/orders/${placed.body.data.order.id}`).set(bearer(carol.token));
      expect(order.body.data.shippingAddress).toMatchObject(address);
    } finally {
      await rotatedApp.stop();
    }
  }, 60_000);

  it('when a customer is erased by email from the command line, then their orders read as erased', async () => {
    const dave = await givenUser(app);
    const product = await givenProduct(app);
    const placed = await app.request
      .post('/orders')
      .set(bearer(dave.token))
      .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address });
    const erased = await runCli(['privacy', 'erase', dave.email.toUpperCase(), '--json'], { ENV_FILE: 'none', DATABASE_URL: app.db.url, PII_MASTER_KEY: oldKey });
    expect(erased.stderr).toBe('');
    expect(JSON.parse(erased.stdout)).toMatchObject({ userId: dave.id, cancelledOrderIds: [placed.body.data.order.id], erasedOrderIds: [placed.body.data.order.id] });
    const row = await eventually(
      async () =>
        (await app.runtime.deps.knex('orders').where('id', placed.body.data.order.id).first()) as { personal_data: string | null; personal_data_erased: boolean; status: string },
      (r) => r.personal_data_erased,
    );
    expect(row).toMatchObject({ personal_data: null, status: 'CANCELLED' });
    const unknown = await runCli(['privacy', 'erase', 'nobody@example.com'], { ENV_FILE: 'none', DATABASE_URL: app.db.url, PII_MASTER_KEY: oldKey });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No such user/);
  }, 60_000);
});

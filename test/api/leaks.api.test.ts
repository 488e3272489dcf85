import pino from 'pino';
import pg from 'pg';
import { ADMIN_URL } from '../support/testDatabase';
import { bearer, givenAdmin, givenUser, type TestUser } from '../support/apiHarness';
import { eventually, orderState, placeOrder, sendStripeWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

/**
 * Public answers carry a code and a plain message; what a driver or a provider said goes to the
 * log. The logger here is plain pino (no redaction) so the assertions see everything logged.
 */
const logLines: string[] = [];
let env: PaymentsApp;
let alice: TestUser;
let admin: TestUser;

beforeAll(async () => {
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
  env = await startPaymentsApp({}, { logger });
  [alice, admin] = await Promise.all([givenUser(env.app), givenAdmin(env.app)]);
});

afterAll(async () => {
  await env?.stop();
});

const logsSince = (mark: number): string => logLines.slice(mark).join('\n');

describe('provider errors', () => {
  it("when Stripe refuses to create the PaymentIntent with its own message, then the customer sees a code and a plain message, and the log has Stripe's words", async () => {
    const mark = logLines.length;
    env.stripe.failNext(
      { method: 'POST', path: /^\/v1\/payment_intents$/ },
      { status: 400, body: { error: { type: 'invalid_request_error', message: 'Missing or invalid amount/currency', code: 'parameter_missing' } } },
    );
    const placed = await placeOrder(env.app, alice, 'STRIPE');

    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', details: { provider: 'STRIPE', orderStatus: 'PAYMENT_FAILED' } });
    expect(placed.body.error!.message).toMatch(/^Stripe PaymentIntent creation failed\. Order .+ was kept and is PAYMENT_FAILED; retry the payment with POST \/orders\/.+\/pay$/);
    expect(JSON.stringify(placed.body)).not.toMatch(/Missing or invalid|parameter_missing|invalid_request_error/);
    // What the order records (and the customer reads in its history, pushes and emails) is plain too.
    const history = await env.app.request.get(`/orders/${placed.orderId}/history`).set(bearer(alice.token));
    expect(JSON.stringify(history.body)).not.toMatch(/Missing or invalid|parameter_missing/);
    expect(logsSince(mark)).toContain('Missing or invalid amount/currency (parameter_missing)');
  });

  it('when PayPal refuses an order with its own description, then the answer names neither it nor its issue code', async () => {
    const mark = logLines.length;
    env.paypal.failNext(
      { method: 'POST', path: /^\/v2\/checkout\/orders$/ },
      { status: 422, body: { name: 'UNPROCESSABLE_ENTITY', details: [{ issue: 'CURRENCY_NOT_SUPPORTED', description: 'Currency code is not supported for this merchant' }] } },
    );
    const placed = await placeOrder(env.app, alice, 'PAYPAL');

    expect(placed.status).toBe(502);
    expect(placed.body.error).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR' });
    expect(placed.body.error!.message).toMatch(/^PayPal order creation failed\./);
    expect(JSON.stringify(placed.body)).not.toMatch(/CURRENCY_NOT_SUPPORTED|not supported for this merchant/);
    expect(logsSince(mark)).toContain('HTTP 422 CURRENCY_NOT_SUPPORTED: Currency code is not supported for this merchant');
  });

  it("when PayPal refuses a capture for a reason the buyer cannot act on, then 409 says so plainly and the log has PayPal's issue", async () => {
    const placed = await placeOrder(env.app, alice, 'PAYPAL');
    env.paypal.approve((await orderState(env.app, placed.orderId)).paymentReference!);
    const mark = logLines.length;
    env.paypal.failNext(
      { method: 'POST', path: /\/capture$/ },
      {
        status: 422,
        body: {
          name: 'UNPROCESSABLE_ENTITY',
          details: [{ issue: 'PAYEE_BLOCKED_TRANSACTION', description: 'The Fraud settings for this seller are such that this payee cannot be used.' }],
        },
      },
    );
    const res = await env.app.request.post('/payments/paypal/capture').set(bearer(alice.token)).send({ orderId: placed.orderId });

    expect(res.status).toBe(409);
    expect(res.body.error).toEqual({
      code: 'PAYPAL_CAPTURE_REFUSED',
      message: `Cannot capture order ${placed.orderId}: PayPal refused the capture`,
      details: { orderId: placed.orderId },
    });
    expect(logsSince(mark)).toContain('PAYEE_BLOCKED_TRANSACTION');
  });

  it('when Stripe refuses an admin refund, then the 502 is plain and the log says why', async () => {
    const placed = await placeOrder(env.app, alice, 'STRIPE');
    const intentId = (await orderState(env.app, placed.orderId)).paymentReference!;
    env.stripe.pay(intentId);
    await sendStripeWebhook(env.app, env.stripe.intentEvent('payment_intent.succeeded', intentId));
    const mark = logLines.length;
    // Twice: the refund reactor sends the same request as the admin call, in either order, and neither may succeed.
    env.stripe.failNext(
      { method: 'POST', path: /^\/v1\/refunds$/ },
      { status: 400, body: { error: { type: 'invalid_request_error', message: 'Charge ch_123 has been disputed.', code: 'charge_disputed' } } },
      2,
    );
    const res = await env.app.request.post(`/orders/${placed.orderId}/refund`).set(bearer(admin.token)).send({});

    expect(res.status).toBe(502);
    expect(res.body.error.message).toMatch(/^Stripe refund failed\. The refund of order .+ is requested and will be retried automatically$/);
    expect(JSON.stringify(res.body)).not.toMatch(/disputed|ch_123/);
    await eventually(
      async () => logsSince(mark),
      (logs) => logs.includes('Charge ch_123 has been disputed. (charge_disputed)'),
    );
  });
});

describe('GET /ready', () => {
  it('when the database refuses connections, then anonymous callers see which checks failed but no driver text, and the log has it', async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    const database = env.app.db.name;
    const mark = logLines.length;
    try {
      await admin.query(`alter database "${database}" allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
      const res = await env.app.request.get('/ready');

      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 'not_ready', checks: { database: { ok: false }, redis: { ok: true }, eventStore: { ok: false, kind: 'postgres' } } });
      expect(Object.keys(res.body.checks.database)).toEqual(['ok']);
      expect(JSON.stringify(res.body)).not.toMatch(/connection|terminat|accepting|select 1|database "/i);
      expect(logsSince(mark)).toMatch(/readiness check failed/);
      expect(logsSince(mark)).toMatch(/not currently accepting connections|terminating connection/);
    } finally {
      await admin.query(`alter database "${database}" allow_connections true`);
      await admin.end();
    }
    await eventually(
      async () => (await env.app.request.get('/ready')).status,
      (status) => status === 200,
      15_000,
    );
  });
});

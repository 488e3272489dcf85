import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { loadOrder } from '../../src/commands/order/orderStream';
import { orderStreamId } from '../../src/events/codec';
import { loadConfig } from '../../src/infra/config/config';
import type { PaymentDeps } from '../../src/commands/payments/paymentDeps';
import { PaymentProviders } from '../../src/infra/payments/paymentProviders';
import { REFUND_REACTOR_NAME, RefundReactor } from '../../src/projections/refundReactor';
import { FakeStripe } from '../fakes/stripe/fakeStripe';
import { createLedger, silentLogger, type Ledger } from '../support/ledgerHarness';
import { nextTime, placeOrder } from '../support/orderBuilders';
import { eventually } from '../support/paymentsHarness';

let ledger: Ledger;
let stripe: FakeStripe;
let payments: PaymentDeps;
const running: RefundReactor[] = [];

beforeAll(async () => {
  [ledger, stripe] = await Promise.all([createLedger(), FakeStripe.start()]);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: ledger.db.url,
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
    STRIPE_API_HOST: '127.0.0.1',
    STRIPE_API_PORT: String(stripe.port),
    STRIPE_API_PROTOCOL: 'http',
    HTTP_CLIENT_TIMEOUT_MS: '300',
  });
  payments = { providers: new PaymentProviders(config), store: ledger.store, logger: silentLogger, clock: () => new Date() };
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((reactor) => reactor.stop()));
});

afterAll(async () => {
  await stripe.close();
  await ledger.close();
});

function startReactor(): RefundReactor {
  const reactor = new RefundReactor({
    store: ledger.store,
    knex: ledger.db.knex,
    payments,
    logger: silentLogger,
    connectionString: ledger.db.url,
    retryMs: 100,
    lockRetryMs: 50,
  });
  reactor.start();
  running.push(reactor);
  return reactor;
}

/** A STRIPE order paid through the fake, with an admin refund requested. Returns the ids. */
async function givenRefundRequested(): Promise<{ orderId: string; intentId: string; requestId: string }> {
  const place = placeOrder({ paymentMethod: 'STRIPE' });
  const orderId = place.data.orderId;
  await handleOrderCommand(ledger.store, orderId, place);
  const session = await payments.providers.provider('STRIPE').createPayment({ orderId, amount: 1999, currency: 'USD', idempotencyKey: `test-${orderId}` });
  await handleOrderCommand(ledger.store, orderId, { type: 'InitiatePayment', data: { provider: 'STRIPE', providerReference: session.reference, now: nextTime() } });
  stripe.pay(session.reference);
  await handleOrderCommand(ledger.store, orderId, {
    type: 'RecordPaymentSuccess',
    data: { provider: 'STRIPE', providerReference: session.reference, amount: 1999, currency: 'USD', now: nextTime() },
  });
  const requested = await handleOrderCommand(ledger.store, orderId, { type: 'RequestRefund', data: { reason: 'test', now: nextTime() } });
  const stream = await ledger.store.readStream(orderStreamId(orderId));
  const request = stream.find((e) => e.type === 'RefundRequested')!;
  expect(requested.events.map((e) => e.type)).toEqual(['RefundRequested']);
  return { orderId, intentId: session.reference, requestId: request.id };
}

const refundsOf = (intentId: string) => [...stripe.refunds.values()].filter((r) => r.payment_intent === intentId);
const statusOf = async (orderId: string) => (await loadOrder(ledger.store, orderId)).state.status;
const checkpoint = async () =>
  ((await ledger.db.knex('projection_checkpoints').where({ name: REFUND_REACTOR_NAME }).first('position')) as { position: string } | undefined)?.position;

describe('refund reactor', () => {
  it('when a refund is requested, then it refunds through Stripe with the event id as idempotency key and records the refund', async () => {
    const { orderId, intentId, requestId } = await givenRefundRequested();
    startReactor();

    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect(refundsOf(intentId)).toHaveLength(1);
    expect(
      stripe
        .requestsTo('POST', /^\/v1\/refunds$/)
        .filter((r) => r.form.payment_intent === intentId)
        .map((r) => r.idempotencyKey),
    ).toEqual([requestId]);
    const requestPosition = (await ledger.store.readStream(orderStreamId(orderId))).find((e) => e.id === requestId)!.position;
    expect(BigInt((await eventually(checkpoint, (p) => p !== undefined && BigInt(p) >= requestPosition))!)).toBeGreaterThanOrEqual(requestPosition);
  });

  it('when the reactor restarts, then it resumes from its checkpoint and calls Stripe for nothing it already handled', async () => {
    const { orderId } = await givenRefundRequested();
    const first = startReactor();
    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    const head = await ledger.store.headPosition();
    await eventually(checkpoint, (p) => p !== undefined && BigInt(p) >= head);
    await first.stop();
    const calls = stripe.requestsTo('POST', /^\/v1\/refunds$/).length;

    startReactor();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(stripe.requestsTo('POST', /^\/v1\/refunds$/).length).toBe(calls);
  });

  it('when Stripe refunds but the answer is lost and the reactor dies, then the next run refunds nothing twice and records the refund', async () => {
    const { orderId, intentId, requestId } = await givenRefundRequested();
    // Stripe carries out the refund, but neither the call nor the SDK's retry hears back.
    stripe.failNext({ method: 'POST', path: /^\/v1\/refunds$/ }, 'answer-lost', 1);
    stripe.failNext({ method: 'POST', path: /^\/v1\/refunds$/ }, 'hang', 1);
    const doomed = startReactor();
    await eventually(
      async () => refundsOf(intentId).length,
      (n) => n === 1,
    );
    await doomed.stop(); // the crash: nothing recorded, checkpoint not moved past the request
    expect(await statusOf(orderId)).not.toBe('REFUNDED');

    startReactor();
    await eventually(
      () => statusOf(orderId),
      (s) => s === 'REFUNDED',
    );
    expect(refundsOf(intentId)).toHaveLength(1);
    const keys = stripe
      .requestsTo('POST', /^\/v1\/refunds$/)
      .filter((r) => r.form.payment_intent === intentId)
      .map((r) => r.idempotencyKey);
    expect(new Set(keys)).toEqual(new Set([requestId]));
  });

  it('when two reactors run, then only one holds the lock and each refund happens once', async () => {
    const a = startReactor();
    const b = startReactor();
    const orders = await Promise.all([givenRefundRequested(), givenRefundRequested(), givenRefundRequested()]);
    for (const { orderId } of orders)
      await eventually(
        () => statusOf(orderId),
        (s) => s === 'REFUNDED',
      );
    for (const { intentId } of orders) expect(refundsOf(intentId)).toHaveLength(1);
    expect([a.state, b.state].sort()).toEqual(['running', 'standby']);
  });

  it('when Stripe refuses the refund outright, then it is left to an admin and later refunds still go through', async () => {
    const refused = await givenRefundRequested();
    stripe.failNext(
      { method: 'POST', path: /^\/v1\/refunds$/ },
      { status: 400, body: { error: { type: 'invalid_request_error', code: 'charge_disputed', message: 'Charge is disputed' } } },
      1,
    );
    startReactor();
    await eventually(checkpoint, (p) => p !== undefined);
    const next = await givenRefundRequested();
    await eventually(
      () => statusOf(next.orderId),
      (s) => s === 'REFUNDED',
    );
    expect(await statusOf(refused.orderId)).toBe('PAID');
    expect(refundsOf(refused.intentId)).toHaveLength(0);
  });
});

import { OrderExpiryReactor } from '../../src/projections/expiryReactor';
import { createLogger } from '../../src/infra/logger';
import { bearer, givenAdmin, givenProduct, givenUser, type TestUser } from '../support/apiHarness';
import { eventTypes, eventually, sendStripeWebhook, startPaymentsApp, type PaymentsApp } from '../support/paymentsHarness';

const TTL_MS = 30 * 60_000;

let payments: PaymentsApp;
let reactor: OrderExpiryReactor;
let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  // No worker role: the reactor under test is the only one, driven by the times the test gives it.
  payments = await startPaymentsApp({ ROLES: 'api,projector' });
  const { deps } = payments.app.runtime;
  reactor = new OrderExpiryReactor({
    store: deps.store,
    knex: deps.knex,
    payments: deps.payments,
    logger: createLogger('silent'),
    connectionString: deps.config.DATABASE_URL,
    ttlMs: TTL_MS,
    checkMs: 3_600_000,
    clock: () => new Date(0),
  });
  reactor.start();
  admin = await givenAdmin(payments.app);
  user = await givenUser(payments.app);
});
afterAll(async () => {
  await reactor.stop();
  await payments.stop();
});

const app = () => payments.app;
const knex = () => payments.app.runtime.deps.knex;

async function trackedProduct(quantity: number): Promise<string> {
  const product = await givenProduct(app());
  const res = await app().request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity });
  expect(res.status).toBe(200);
  return product.id;
}

async function place(productId: string, paymentMethod: 'STRIPE' | 'MANUAL', quantity = 2): Promise<{ orderId: string; placedAt: number; intentId?: string }> {
  const res = await app()
    .request.post('/orders')
    .set(bearer(user.token))
    .send({ items: [{ productId, quantity }], paymentMethod });
  expect(res.status).toBe(201);
  const orderId = res.body.data.order.id as string;
  const [placed] = await app().runtime.deps.store.readStream(`order-${orderId}`);
  const intentId = paymentMethod === 'STRIPE' ? ((await app().runtime.deps.store.readStream(`order-${orderId}`))[1]?.data.providerReference as string) : undefined;
  // The reactor has seen the order once it is on its list.
  await eventually(() => knex()('order_payment_deadlines').where({ order_id: orderId }).first(), Boolean);
  return { orderId, placedAt: Date.parse(placed!.data.placedAt as string), ...(intentId ? { intentId } : {}) };
}

const stockTypes = async (productId: string): Promise<string[]> => (await app().runtime.deps.store.readStream(`stock-${productId}`)).map((e) => e.type);

describe('unpaid orders expire after ORDER_PAYMENT_TTL', () => {
  it('given a Stripe order with reserved stock, when its window closes, then the PaymentIntent is cancelled, the order cancelled and the stock released, once', async () => {
    const product = await trackedProduct(3);
    const { orderId, placedAt, intentId } = await place(product, 'STRIPE');

    expect(await reactor.expireDue(new Date(placedAt + TTL_MS - 1000))).toBe(0);
    expect(await eventTypes(app(), orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);

    expect(await reactor.expireDue(new Date(placedAt + TTL_MS + 1000))).toBe(1);
    const events = await app().runtime.deps.store.readStream(`order-${orderId}`);
    expect(events.at(-1)).toMatchObject({ type: 'OrderCancelled', data: { from: 'PENDING', reason: 'payment window expired' }, metadata: { actor: { type: 'system' } } });
    expect(payments.stripe.cancelled).toEqual(expect.arrayContaining([intentId]));
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockReleased']);
    expect(await knex()('order_payment_deadlines').where({ order_id: orderId }).first()).toBeUndefined();

    // A later check (or a second instance after a crash) changes nothing.
    expect(await reactor.expireDue(new Date(placedAt + TTL_MS + 60_000))).toBe(0);
    expect(await eventTypes(app(), orderId)).toHaveLength(3);
  });

  it('given an expired order, when its payment arrives anyway, then it is refunded as a payment after cancellation, not lost, and stock stays released', async () => {
    const product = await trackedProduct(3);
    const { orderId, placedAt, intentId } = await place(product, 'STRIPE', 1);
    expect(await reactor.expireDue(new Date(placedAt + TTL_MS + 1000))).toBeGreaterThanOrEqual(1);

    payments.stripe.pay(intentId!);
    const delivered = await sendStripeWebhook(app(), payments.stripe.intentEvent('payment_intent.succeeded', intentId!));
    expect(delivered.status).toBe(200);
    const events = await app().runtime.deps.store.readStream(`order-${orderId}`);
    expect(events.at(-1)).toMatchObject({ type: 'RefundRequested', data: { providerReference: intentId, reason: 'payment received after cancellation' } });
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockReleased']);
  });

  it('given a payment Stripe took whose report has not arrived, when the window closes, then the order is not expired', async () => {
    const product = await trackedProduct(3);
    const { orderId, placedAt, intentId } = await place(product, 'STRIPE', 1);
    payments.stripe.pay(intentId!);
    await reactor.expireDue(new Date(placedAt + TTL_MS + 1000));
    expect(await eventTypes(app(), orderId)).toEqual(['OrderPlaced', 'PaymentInitiated']);
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved']);

    // The report then pays it: the reservation is committed and the order leaves the list.
    expect((await sendStripeWebhook(app(), payments.stripe.intentEvent('payment_intent.succeeded', intentId!))).status).toBe(200);
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockCommitted']);
    await eventually(
      () => knex()('order_payment_deadlines').where({ order_id: orderId }).first(),
      (row) => row === undefined,
    );
  });

  it('given a MANUAL order, when its window closes, then it expires and releases its stock without any provider', async () => {
    const product = await trackedProduct(2);
    const { orderId, placedAt } = await place(product, 'MANUAL', 2);
    expect(await reactor.expireDue(new Date(placedAt + TTL_MS + 1000))).toBeGreaterThanOrEqual(1);
    expect((await eventTypes(app(), orderId)).at(-1)).toBe('OrderCancelled');
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockReleased']);
  });

  it('when the owner cancels a Stripe order, then its open PaymentIntent is cancelled and the stock released', async () => {
    const product = await trackedProduct(2);
    const { orderId, intentId } = await place(product, 'STRIPE', 1);
    const res = await app().request.post(`/orders/${orderId}/cancel`).set(bearer(user.token)).send({});
    expect(res.status).toBe(200);
    expect(payments.stripe.cancelled).toContain(intentId);
    expect(await stockTypes(product)).toEqual(['StockTrackingStarted', 'StockReceived', 'StockReserved', 'StockReleased']);
  });
});

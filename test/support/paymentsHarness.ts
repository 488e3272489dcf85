import { loadOrder } from '../../src/commands/order/orderStream';
import type { OrderState } from '../../src/commands/order/orderDecider';
import { orderStreamId } from '../../src/events/codec';
import type { RuntimeOptions } from '../../src/infra/runtime';
import { FakePayPal } from '../fakes/paypal/fakePayPal';
import { FakeStripe } from '../fakes/stripe/fakeStripe';
import { bearer, givenProduct, startTestApp, type TestApp, type TestUser } from './apiHarness';

export interface PaymentsApp {
  app: TestApp;
  stripe: FakeStripe;
  paypal: FakePayPal;
  stop(): Promise<void>;
}

/**
 * The real runtime (api, projector and the worker role that runs the refund reactor) with the
 * real Stripe SDK and the PayPal client pointed at local fakes. Short provider timeouts keep
 * timeout tests fast.
 */
export async function startPaymentsApp(overrides: Record<string, string> = {}, options: RuntimeOptions = {}): Promise<PaymentsApp> {
  const [stripe, paypal] = await Promise.all([FakeStripe.start(), FakePayPal.start()]);
  let app: TestApp;
  try {
    app = await startTestApp(
      {
        ROLES: 'api,projector,worker',
        STRIPE_SECRET_KEY: stripe.secretKey,
        STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
        STRIPE_API_HOST: '127.0.0.1',
        STRIPE_API_PORT: String(stripe.port),
        STRIPE_API_PROTOCOL: 'http',
        PAYPAL_CLIENT_ID: paypal.clientId,
        PAYPAL_CLIENT_SECRET: paypal.clientSecret,
        PAYPAL_WEBHOOK_ID: paypal.webhookId,
        PAYPAL_API_BASE: paypal.url,
        HTTP_CLIENT_TIMEOUT_MS: '400',
        PAYMENT_REFUND_RETRY_MS: '200',
        ...overrides,
      },
      options,
    );
  } catch (error) {
    await Promise.all([stripe.close(), paypal.close()]);
    throw error;
  }
  return {
    app,
    stripe,
    paypal,
    async stop() {
      await app.stop();
      await Promise.all([stripe.close(), paypal.close()]);
    },
  };
}

export type Method = 'STRIPE' | 'PAYPAL' | 'MANUAL';

export interface PlacedPayment {
  status: number;
  orderId: string;
  body: {
    status: string;
    data?: { order: { id: string; status: string; totalAmount: number; currency: string }; position: string; clientSecret?: string; paymentUrl?: string };
    error?: { code: string; message: string; details?: Record<string, unknown> };
  };
}

/** POST /orders for one product of `unitAmount` (minor units) in `currency`. */
export async function placeOrder(
  app: TestApp,
  user: TestUser,
  method: Method,
  product: { unitAmount?: number; currency?: string; quantity?: number } = {},
): Promise<PlacedPayment> {
  const created = await givenProduct(app, { unitAmount: product.unitAmount ?? 2500, currency: product.currency ?? 'USD' });
  const res = await app.request
    .post('/orders')
    .set(bearer(user.token))
    .send({ items: [{ productId: created.id, quantity: product.quantity ?? 1 }], paymentMethod: method });
  const body = res.body as PlacedPayment['body'];
  return { status: res.status, orderId: body.data?.order.id ?? (body.error?.details?.orderId as string | undefined) ?? '', body };
}

export async function orderState(app: TestApp, orderId: string): Promise<Exclude<OrderState, { status: 'NONE' }>> {
  const { state } = await loadOrder(app.runtime.deps.store, orderId);
  if (state.status === 'NONE') throw new Error(`order ${orderId} does not exist`);
  return state;
}

export async function eventTypes(app: TestApp, orderId: string): Promise<string[]> {
  return (await app.runtime.deps.store.readStream(orderStreamId(orderId))).map((e) => e.type);
}

/** Polls (bounded) until `check` holds; fails with the last value seen. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  return last;
}

export function sendStripeWebhook(app: TestApp, event: { payload: string; header?: string }) {
  const request = app.request.post('/payments/webhook/stripe').set('Content-Type', 'application/json');
  if (event.header !== undefined) request.set('Stripe-Signature', event.header);
  return request.send(event.payload);
}

export function sendPayPalWebhook(app: TestApp, notification: { body: string; headers: Record<string, string> }) {
  const request = app.request.post('/payments/webhook/paypal');
  for (const [name, value] of Object.entries(notification.headers)) request.set(name, value);
  return request.send(notification.body);
}

import { randomUUID } from 'node:crypto';
import { PayPalProvider } from '../../src/infra/payments/paypalProvider';
import { StripeProvider } from '../../src/infra/payments/stripeProvider';
import { FakePayPal } from '../fakes/paypal/fakePayPal';
import { FakeStripe } from '../fakes/stripe/fakeStripe';

describe('amounts sent to providers', () => {
  let stripe: FakeStripe;
  let paypal: FakePayPal;
  let stripeProvider: StripeProvider;
  let paypalProvider: PayPalProvider;

  beforeAll(async () => {
    [stripe, paypal] = await Promise.all([FakeStripe.start(), FakePayPal.start()]);
    stripeProvider = new StripeProvider({
      secretKey: stripe.secretKey,
      webhookSecret: undefined,
      host: '127.0.0.1',
      port: stripe.port,
      protocol: 'http',
      timeoutMs: 2000,
      maxNetworkRetries: 0,
    });
    paypalProvider = new PayPalProvider({
      clientId: paypal.clientId,
      clientSecret: paypal.clientSecret,
      apiBase: paypal.url,
      webhookId: paypal.webhookId,
      returnUrl: 'http://localhost/return',
      cancelUrl: 'http://localhost/cancel',
      timeoutMs: 2000,
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await Promise.all([stripe.close(), paypal.close()]);
  });

  it.each([
    ['ISK', 5, 500],
    ['UGX', 1000, 100_000],
    ['HUF', 17_550, 17_550],
    ['JPY', 500, 500],
    ['USD', 1999, 1999],
  ])('when an order of %s %i minor units is paid by Stripe, then the PaymentIntent asks for %i', async (currency, minor, expected) => {
    const session = await stripeProvider.createPayment({ orderId: randomUUID(), amount: minor, currency, idempotencyKey: randomUUID() });
    expect(stripe.intents.get(session.reference)).toMatchObject({ amount: expected, currency: currency.toLowerCase() });
  });

  it('when Stripe refunds an ISK payment, then the refund asks for the two-decimal amount and reports our minor units', async () => {
    const session = await stripeProvider.createPayment({ orderId: randomUUID(), amount: 7, currency: 'ISK', idempotencyKey: randomUUID() });
    stripe.pay(session.reference);
    const refund = await stripeProvider.refund({ orderId: randomUUID(), paymentReference: session.reference, amount: 7, currency: 'ISK', idempotencyKey: randomUUID() });
    expect(stripe.refunds.get(refund.refundId)).toMatchObject({ amount: 700 });
    expect(refund).toMatchObject({ amount: 7, currency: 'ISK' });
  });

  it('when an amount has no exact Stripe form (1.005 KWD), then nothing is sent and the failure is permanent', async () => {
    const before = stripe.requests.length;
    const error = await stripeProvider.createPayment({ orderId: randomUUID(), amount: 1005, currency: 'KWD', idempotencyKey: randomUUID() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', transient: false });
    expect(stripe.requests.length).toBe(before);
  });

  it('when an order in HUF is paid by PayPal, then PayPal gets whole forints', async () => {
    const orderId = randomUUID();
    await paypalProvider.createPayment({ orderId, amount: 17_500, currency: 'HUF', idempotencyKey: randomUUID() });
    const created = paypal.requests.filter((r) => r.method === 'POST' && r.path === '/v2/checkout/orders').at(-1);
    expect(created?.body).toContain('"value":"175"');
  });
});

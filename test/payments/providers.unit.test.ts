import { loadConfig } from '../../src/infra/config/config';
import { fromDecimalAmount, toDecimalAmount } from '../../src/events/money';
import { PaymentProviderNotConfiguredError, type PaymentProviderError } from '../../src/infra/payments/paymentProvider';
import { PaymentProviders } from '../../src/infra/payments/paymentProviders';
import { PayPalProvider } from '../../src/infra/payments/paypalProvider';
import { FakePayPal } from '../fakes/paypal/fakePayPal';

describe('amounts', () => {
  it.each([
    [3499, 'USD', '34.99'],
    [5, 'EUR', '0.05'],
    [100, 'GBP', '1.00'],
    [0, 'USD', '0.00'],
    [500, 'JPY', '500'],
  ])('when %i %s is written for PayPal, then it is "%s" and reads back the same', (minor, currency, decimal) => {
    expect(toDecimalAmount(minor, currency)).toBe(decimal);
    expect(fromDecimalAmount(decimal, currency)).toBe(minor);
  });

  it.each([
    ['34.999', 'USD'],
    ['1.5', 'JPY'],
    ['-1.00', 'USD'],
    ['abc', 'USD'],
    ['1e3', 'USD'],
  ])('when "%s" %s is read, then it is not an amount', (value, currency) => {
    expect(fromDecimalAmount(value, currency)).toBeUndefined();
  });

  it('when a value has fewer decimals, then it still reads exactly', () => {
    expect(fromDecimalAmount('34.9', 'USD')).toBe(3490);
    expect(fromDecimalAmount('34', 'USD')).toBe(3400);
  });
});

describe('which variables a payment method needs', () => {
  const payments = (env: Record<string, string>) => new PaymentProviders(loadConfig({ NODE_ENV: 'test', ...env }));

  it('when only the Stripe secret key is set, then STRIPE is refused naming the webhook secret alone', () => {
    const error = (() => {
      try {
        payments({ STRIPE_SECRET_KEY: 'sk_test_1' }).assertConfigured('STRIPE');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(PaymentProviderNotConfiguredError);
    expect((error as Error).message).toBe('Stripe payments are not configured: set STRIPE_WEBHOOK_SECRET');
  });

  it('when both PayPal credentials are set, then PAYPAL is accepted; MANUAL always is', () => {
    const configured = payments({ PAYPAL_CLIENT_ID: 'id', PAYPAL_CLIENT_SECRET: 'secret' });
    expect(() => configured.assertConfigured('PAYPAL')).not.toThrow();
    expect(() => payments({}).assertConfigured('MANUAL')).not.toThrow();
    expect(() => payments({ PAYPAL_CLIENT_ID: 'id' }).assertConfigured('PAYPAL')).toThrow('set PAYPAL_CLIENT_SECRET');
  });
});

describe('PayPal OAuth token', () => {
  let paypal: FakePayPal;
  let clock = 0;
  const provider = () =>
    new PayPalProvider({
      clientId: paypal.clientId,
      clientSecret: paypal.clientSecret,
      apiBase: paypal.url,
      webhookId: paypal.webhookId,
      returnUrl: 'http://localhost/return',
      cancelUrl: 'http://localhost/cancel',
      timeoutMs: 1000,
      maxRetries: 1,
      now: () => clock,
    });
  const create = (client: PayPalProvider, n: number) =>
    client.createPayment({ orderId: `00000000-0000-4000-8000-00000000000${n}`, amount: 100, currency: 'USD', idempotencyKey: `key-${n}-${Math.random()}` });

  beforeAll(async () => {
    paypal = await FakePayPal.start();
  });
  afterAll(async () => {
    await paypal.close();
  });

  it('when many calls start at once, then one token is fetched for all of them', async () => {
    const client = provider();
    const before = paypal.tokenRequests;
    await Promise.all([1, 2, 3, 4, 5].map((n) => create(client, n)));
    expect(paypal.tokenRequests - before).toBe(1);
  });

  it('when the token nears its expiry, then a new one is fetched a minute early', async () => {
    paypal.tokenLifetimeSeconds = 3600;
    clock = 0;
    const client = provider();
    const before = paypal.tokenRequests;
    await create(client, 1);
    clock = (3600 - 61) * 1000;
    await create(client, 2);
    expect(paypal.tokenRequests - before).toBe(1);
    clock = (3600 - 59) * 1000;
    await create(client, 3);
    expect(paypal.tokenRequests - before).toBe(2);
  });

  it('when the credentials are wrong, then the error says authentication failed and never shows the secret', async () => {
    const client = new PayPalProvider({
      clientId: paypal.clientId,
      clientSecret: 'wrong-secret-value',
      apiBase: paypal.url,
      webhookId: undefined,
      returnUrl: 'http://localhost/return',
      cancelUrl: 'http://localhost/cancel',
      timeoutMs: 1000,
      maxRetries: 1,
    });
    const error = (await create(client, 1).catch((e: unknown) => e)) as PaymentProviderError;
    expect(error.message).toBe('PayPal authentication failed');
    expect(error.logDetail).toMatch(/PayPal authentication: HTTP 401/);
    expect(`${error.message} ${error.logDetail}`).not.toContain('wrong-secret-value');
  });
});

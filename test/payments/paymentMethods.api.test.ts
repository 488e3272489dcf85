import { startTestApp, type TestApp } from '../support/apiHarness';

describe('GET /payments/methods', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
  });

  async function methods(env: Record<string, string>): Promise<unknown> {
    const app = await startTestApp(env);
    apps.push(app);
    const res = await app.request.get('/payments/methods');
    expect(res.status).toBe(200);
    return res.body;
  }

  it('when no provider is configured, then only MANUAL is offered, to anyone', async () => {
    expect(await methods({})).toEqual({ status: 'success', data: ['MANUAL'] });
  });

  it('when Stripe has its key but no webhook secret, then Stripe is not offered (it could never learn the outcome)', async () => {
    expect(await methods({ STRIPE_SECRET_KEY: 'sk_test_only' })).toEqual({ status: 'success', data: ['MANUAL'] });
  });

  it('when Stripe and PayPal are configured, then both follow MANUAL', async () => {
    const body = await methods({
      STRIPE_SECRET_KEY: 'sk_test_methods',
      STRIPE_WEBHOOK_SECRET: 'whsec_methods',
      PAYPAL_CLIENT_ID: 'client-methods',
      PAYPAL_CLIENT_SECRET: 'secret-methods',
    });
    expect(body).toEqual({ status: 'success', data: ['MANUAL', 'STRIPE', 'PAYPAL'] });
  });
});

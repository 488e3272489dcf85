import { NotFoundError } from '../../errors';
import type { PaymentMethod } from '../../events/orderEvents';
import type { Config } from '../config/config';
import { PaymentProviderNotConfiguredError, type CapturingProvider, type PaymentProvider, type ProviderMethod } from './paymentProvider';
import { PayPalProvider } from './paypalProvider';
import { StripeProvider } from './stripeProvider';

/** The URL names of the webhook route (`POST /payments/webhook/:provider`). */
export const webhookProviders: Readonly<Record<string, ProviderMethod>> = { stripe: 'STRIPE', paypal: 'PAYPAL' };

/**
 * The payment providers this deployment is configured for, built once from the configuration.
 * Stripe reports outcomes only by webhook, so it needs its webhook secret before an order may
 * choose it; PayPal's webhook id is needed only to receive its webhooks.
 */
export class PaymentProviders {
  readonly stripe: StripeProvider | undefined;
  readonly paypal: PayPalProvider | undefined;

  constructor(private readonly config: Config) {
    this.stripe = config.STRIPE_SECRET_KEY
      ? new StripeProvider({
          secretKey: config.STRIPE_SECRET_KEY,
          webhookSecret: config.STRIPE_WEBHOOK_SECRET,
          ...(config.STRIPE_API_HOST ? { host: config.STRIPE_API_HOST } : {}),
          ...(config.STRIPE_API_PORT ? { port: config.STRIPE_API_PORT } : {}),
          ...(config.STRIPE_API_PROTOCOL ? { protocol: config.STRIPE_API_PROTOCOL } : {}),
          timeoutMs: config.HTTP_CLIENT_TIMEOUT_MS,
          maxNetworkRetries: 1,
        })
      : undefined;
    this.paypal =
      config.PAYPAL_CLIENT_ID && config.PAYPAL_CLIENT_SECRET
        ? new PayPalProvider({
            clientId: config.PAYPAL_CLIENT_ID,
            clientSecret: config.PAYPAL_CLIENT_SECRET,
            apiBase: config.PAYPAL_API_BASE,
            webhookId: config.PAYPAL_WEBHOOK_ID,
            returnUrl: config.PAYMENT_RETURN_URL,
            cancelUrl: config.PAYMENT_CANCEL_URL,
            timeoutMs: config.HTTP_CLIENT_TIMEOUT_MS,
            maxRetries: 1,
          })
        : undefined;
  }

  /** Variables a method needs before an order may choose it. */
  missingConfiguration(method: PaymentMethod): string[] {
    const { config } = this;
    const required: Record<PaymentMethod, [string, string | undefined][]> = {
      STRIPE: [
        ['STRIPE_SECRET_KEY', config.STRIPE_SECRET_KEY],
        ['STRIPE_WEBHOOK_SECRET', config.STRIPE_WEBHOOK_SECRET],
      ],
      PAYPAL: [
        ['PAYPAL_CLIENT_ID', config.PAYPAL_CLIENT_ID],
        ['PAYPAL_CLIENT_SECRET', config.PAYPAL_CLIENT_SECRET],
      ],
      MANUAL: [],
    };
    return required[method].filter(([, value]) => !value).map(([name]) => name);
  }

  /** 503 naming the missing variables; MANUAL always passes. */
  assertConfigured(method: PaymentMethod): void {
    if (method === 'MANUAL') return;
    const missing = this.missingConfiguration(method);
    if (missing.length > 0) throw new PaymentProviderNotConfiguredError(method, missing);
  }

  provider(method: ProviderMethod): PaymentProvider {
    const provider = method === 'STRIPE' ? this.stripe : this.paypal;
    if (!provider) throw new PaymentProviderNotConfiguredError(method, this.missingConfiguration(method));
    return provider;
  }

  capturing(method: ProviderMethod): CapturingProvider {
    if (method !== 'PAYPAL' || !this.paypal) throw new PaymentProviderNotConfiguredError('PAYPAL', this.missingConfiguration('PAYPAL'));
    return this.paypal;
  }

  /** The provider a webhook URL names; 404 for a name we do not know, 503 naming what is missing. */
  webhookReceiver(name: string): PaymentProvider {
    const method = Object.prototype.hasOwnProperty.call(webhookProviders, name) ? webhookProviders[name] : undefined;
    if (!method) throw new NotFoundError('ROUTE_NOT_FOUND', `No payment provider "${name.slice(0, 40)}" sends webhooks here`);
    const webhookVariable = method === 'STRIPE' ? 'STRIPE_WEBHOOK_SECRET' : 'PAYPAL_WEBHOOK_ID';
    const missing = [...this.missingConfiguration(method), ...(this.config[webhookVariable] ? [] : [webhookVariable])];
    const provider = method === 'STRIPE' ? this.stripe : this.paypal;
    if (!provider || missing.length > 0) throw new PaymentProviderNotConfiguredError(method, [...new Set(missing)]);
    return provider;
  }
}

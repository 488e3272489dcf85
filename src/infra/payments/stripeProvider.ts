import Stripe from 'stripe';
import { ValidationError } from '../../errors';
import { PaymentProviderError, type PaymentProvider, type PaymentSession, type RefundResult } from './paymentProvider';

export interface StripeSettings {
  secretKey: string;
  /** Point the SDK at another server (tests); Stripe's own API otherwise. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  timeoutMs: number;
  /** Retries of network errors, 409 and 5xx; the SDK reuses the idempotency key on each. */
  maxNetworkRetries: number;
}

/** Statuses in which a PaymentIntent can still be paid by the client holding its secret. */
const payableStatuses: ReadonlySet<string> = new Set([
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'succeeded',
]);

function toProviderError(operation: string, error: unknown): PaymentProviderError {
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode;
    if (error instanceof Stripe.errors.StripeConnectionError) {
      return new PaymentProviderError('STRIPE', operation, error.message, true, /timeout/i.test(error.message));
    }
    if (error instanceof Stripe.errors.StripeAuthenticationError) {
      // Stripe's message may echo part of the key; never pass it on.
      return new PaymentProviderError('STRIPE', operation, 'authentication failed (check STRIPE_SECRET_KEY)', false);
    }
    const transient = status === undefined || status === 409 || status === 429 || status >= 500;
    const code = error.code ? ` (${error.code})` : '';
    return new PaymentProviderError('STRIPE', operation, `${status ?? 'no'} status: ${error.message}${code}`, transient);
  }
  return new PaymentProviderError('STRIPE', operation, (error as Error).message ?? String(error), true);
}

export class StripeProvider implements PaymentProvider {
  readonly method = 'STRIPE' as const;
  private readonly stripe: Stripe;

  constructor(settings: StripeSettings) {
    this.stripe = new Stripe(settings.secretKey, {
      timeout: settings.timeoutMs,
      maxNetworkRetries: settings.maxNetworkRetries,
      ...(settings.host ? { host: settings.host } : {}),
      ...(settings.port ? { port: settings.port } : {}),
      ...(settings.protocol ? { protocol: settings.protocol } : {}),
      appInfo: { name: 'order-ledger' },
    });
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toProviderError(operation, error);
    }
  }

  async createPayment(input: { orderId: string; amount: number; currency: string; idempotencyKey: string }): Promise<PaymentSession> {
    const intent = await this.call('PaymentIntent creation', () =>
      this.stripe.paymentIntents.create(
        {
          amount: input.amount,
          currency: input.currency.toLowerCase(),
          metadata: { orderId: input.orderId },
          automatic_payment_methods: { enabled: true },
        },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    if (!intent.client_secret) throw new PaymentProviderError('STRIPE', 'PaymentIntent creation', 'the answer has no client secret', false);
    return { reference: intent.id, clientSecret: intent.client_secret };
  }

  async resumePayment(reference: string): Promise<PaymentSession | undefined> {
    const intent = await this.call('PaymentIntent lookup', () => this.stripe.paymentIntents.retrieve(reference));
    if (!payableStatuses.has(intent.status) || !intent.client_secret) return undefined;
    return { reference: intent.id, clientSecret: intent.client_secret };
  }

  async refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult> {
    const refund = await this.call('refund', () =>
      this.stripe.refunds.create(
        { payment_intent: input.paymentReference, amount: input.amount, metadata: { orderId: input.orderId } },
        { idempotencyKey: input.idempotencyKey },
      ),
    );
    const status = refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending';
    return {
      status,
      refundId: refund.id,
      amount: refund.amount,
      currency: refund.currency.toUpperCase(),
      ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
    };
  }

  /** The order a PaymentIntent was created for (charges do not carry the intent's metadata). */
  async orderIdOfPaymentIntent(reference: string): Promise<string | undefined> {
    const intent = await this.call('PaymentIntent lookup', () => this.stripe.paymentIntents.retrieve(reference));
    return intent.metadata?.orderId;
  }
}

/**
 * Verifies Stripe-Signature over the exact bytes received (default tolerance: five minutes) and
 * parses the event. Any mismatch is a 400; nothing is recorded.
 */
export function verifyStripeWebhook(rawBody: Buffer, signature: string | undefined, secret: string): Stripe.Event {
  if (!signature) throw new ValidationError('Missing Stripe-Signature header', undefined, 'WEBHOOK_SIGNATURE_MISSING');
  try {
    return Stripe.webhooks.constructEvent(rawBody, signature, secret);
  } catch {
    throw new ValidationError('Stripe-Signature does not verify against the body', undefined, 'WEBHOOK_SIGNATURE_INVALID');
  }
}

import Stripe from 'stripe';
import { z } from 'zod';
import { formatAmount, fromStripeAmount, toStripeAmount } from '../../events/money';
import { stripeAmount, stripeCurrency, stripeId, stripeMetadata, translateStripeEvent, verifyStripeWebhook } from './stripeWebhooks';
import {
  PaymentProviderError,
  PaymentProviderNotConfiguredError,
  schemaProblem,
  unavailableForRedelivery,
  type PaymentProvider,
  type PaymentSession,
  type RefundResult,
  type WebhookDelivery,
  type WebhookOutcome,
} from './paymentProvider';

export interface StripeSettings {
  secretKey: string;
  /** Signs the webhooks Stripe sends (STRIPE_WEBHOOK_SECRET); without it webhooks are refused with 503. */
  webhookSecret: string | undefined;
  /** Point the SDK at another server (tests); Stripe's own API otherwise. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  timeoutMs: number;
  /** Retries of network errors, 409 and 5xx; the SDK reuses the idempotency key on each. */
  maxNetworkRetries: number;
}

/** Statuses in which a PaymentIntent can still be paid by the client holding its secret. */
const payableStatuses: ReadonlySet<string> = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'requires_capture', 'succeeded']);

/** Stripe's amount for our minor units; one Stripe cannot charge exactly (5.5 ISK) is refused before any call. */
function toStripeUnits(operation: string, amount: number, currency: string): number {
  const converted = toStripeAmount(amount, currency);
  if (converted === undefined) throw new PaymentProviderError('STRIPE', operation, `${formatAmount(amount, currency)} has no exact Stripe amount`, false);
  return converted;
}

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

const intentAnswerSchema = z.object({ id: stripeId, status: z.string(), client_secret: z.string().nullish(), metadata: stripeMetadata });
const refundAnswerSchema = z.object({
  id: stripeId,
  status: z.string().nullish(),
  amount: stripeAmount,
  currency: stripeCurrency,
  failure_reason: z.string().nullish(),
});

export class StripeProvider implements PaymentProvider {
  readonly method = 'STRIPE' as const;
  private readonly stripe: Stripe;

  constructor(private readonly settings: StripeSettings) {
    this.stripe = new Stripe(settings.secretKey, {
      timeout: settings.timeoutMs,
      maxNetworkRetries: settings.maxNetworkRetries,
      ...(settings.host ? { host: settings.host } : {}),
      ...(settings.port ? { port: settings.port } : {}),
      ...(settings.protocol ? { protocol: settings.protocol } : {}),
      appInfo: { name: 'order-ledger' },
    });
  }

  /** One SDK call; its answer is checked against the fields we read, so a malformed one is a provider error, not a crash. */
  private async call<S extends z.ZodType>(operation: string, schema: S, fn: () => Promise<unknown>): Promise<z.infer<S>> {
    let answer: unknown;
    try {
      answer = await fn();
    } catch (error) {
      throw toProviderError(operation, error);
    }
    const parsed = schema.safeParse(answer);
    if (!parsed.success) throw new PaymentProviderError('STRIPE', operation, `the answer is malformed (${schemaProblem(parsed.error)})`, false);
    return parsed.data;
  }

  async createPayment(input: { orderId: string; amount: number; currency: string; idempotencyKey: string }): Promise<PaymentSession> {
    const amount = toStripeUnits('PaymentIntent creation', input.amount, input.currency);
    const intent = await this.call('PaymentIntent creation', intentAnswerSchema, () =>
      this.stripe.paymentIntents.create(
        {
          amount,
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
    const intent = await this.call('PaymentIntent lookup', intentAnswerSchema, () => this.stripe.paymentIntents.retrieve(reference));
    if (!payableStatuses.has(intent.status) || !intent.client_secret) return undefined;
    return { reference: intent.id, clientSecret: intent.client_secret };
  }

  /** Stripe refuses to cancel an intent that succeeded or was cancelled already; the intent's status then answers. */
  async cancelPayment(reference: string): Promise<'cancelled' | 'paid'> {
    try {
      const intent = await this.call('PaymentIntent cancellation', intentAnswerSchema, () => this.stripe.paymentIntents.cancel(reference, { cancellation_reason: 'abandoned' }));
      return intent.status === 'succeeded' ? 'paid' : 'cancelled';
    } catch (error) {
      if (!(error instanceof PaymentProviderError) || error.transient) throw error;
      const intent = await this.call('PaymentIntent lookup', intentAnswerSchema, () => this.stripe.paymentIntents.retrieve(reference));
      if (intent.status === 'canceled') return 'cancelled';
      if (intent.status === 'succeeded') return 'paid';
      throw error;
    }
  }

  async refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult> {
    const amount = toStripeUnits('refund', input.amount, input.currency);
    const refund = await this.call('refund', refundAnswerSchema, () =>
      this.stripe.refunds.create({ payment_intent: input.paymentReference, amount, metadata: { orderId: input.orderId } }, { idempotencyKey: input.idempotencyKey }),
    );
    const status = refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending';
    const currency = refund.currency.toUpperCase();
    return {
      status,
      refundId: refund.id,
      amount: fromStripeAmount(refund.amount, currency) ?? input.amount,
      currency,
      ...(refund.failure_reason ? { failureReason: refund.failure_reason } : {}),
    };
  }

  /** The order a PaymentIntent was created for (charges do not carry the intent's metadata). */
  async orderIdOfPaymentIntent(reference: string): Promise<string | undefined> {
    const intent = await this.call('PaymentIntent lookup', intentAnswerSchema, () => this.stripe.paymentIntents.retrieve(reference));
    return intent.metadata?.orderId;
  }

  /** See translateStripeEvent: Stripe-Signature checked over the raw bytes, then the event as a report. */
  async receiveWebhook(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const secret = this.settings.webhookSecret;
    if (!secret) throw new PaymentProviderNotConfiguredError('STRIPE', ['STRIPE_WEBHOOK_SECRET']);
    const event = verifyStripeWebhook(delivery.rawBody, delivery.header('stripe-signature'), secret);
    return translateStripeEvent(event, (intentId) => this.lookupForWebhook(intentId));
  }

  /** A lookup while handling a webhook: when Stripe cannot answer, answer non-2xx so it delivers again. */
  private async lookupForWebhook(intentId: string): Promise<string | undefined> {
    try {
      return await this.orderIdOfPaymentIntent(intentId);
    } catch (error) {
      if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
      throw error;
    }
  }
}

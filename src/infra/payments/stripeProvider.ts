import Stripe from 'stripe';
import { z } from 'zod';
import { ValidationError } from '../../errors';
import { formatAmount, fromStripeAmount, toStripeAmount } from '../../events/money';
import {
  orderIdFrom,
  PaymentProviderError,
  PaymentProviderNotConfiguredError,
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
const payableStatuses: ReadonlySet<string> = new Set([
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'succeeded',
]);

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

const stripeId = z.string().min(1).max(255);
const stripeCurrency = z.string().regex(/^[A-Za-z]{3}$/, 'not a three-letter currency code');
const stripeAmount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const stripeMetadata = z.record(z.string(), z.string()).nullish();

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

  async refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult> {
    const amount = toStripeUnits('refund', input.amount, input.currency);
    const refund = await this.call('refund', refundAnswerSchema, () =>
      this.stripe.refunds.create(
        { payment_intent: input.paymentReference, amount, metadata: { orderId: input.orderId } },
        { idempotencyKey: input.idempotencyKey },
      ),
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

  /**
   * Verifies Stripe-Signature over the raw bytes and translates the event: payment_intent.succeeded
   * is `paid`, payment_failed `failed`, canceled `cancelled`, charge.refunded `refunded` with the
   * charge's total refunded so far.
   */
  async receiveWebhook(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const secret = this.settings.webhookSecret;
    if (!secret) throw new PaymentProviderNotConfiguredError('STRIPE', ['STRIPE_WEBHOOK_SECRET']);
    const event = verifyStripeWebhook(delivery.rawBody, delivery.header('stripe-signature'), secret);
    const base = { provider: 'STRIPE' as const, eventId: event.id ?? '', via: 'webhook' as const };
    switch (event.kind) {
      case 'malformed':
        return { kind: 'ignored', ...(event.id ? { eventId: event.id } : {}), ...(event.type ? { eventType: event.type } : {}), reason: event.problem, malformed: true };
      case 'other':
        return { kind: 'ignored', eventId: event.id, reason: `event type ${event.type} is not handled` };
      case 'payment_intent': {
        const { intent } = event;
        const orderId = orderIdFrom(intent.metadata?.orderId);
        if (!orderId) return { kind: 'ignored', eventId: event.id, reason: 'the PaymentIntent names no order' };
        const currency = intent.currency.toUpperCase();
        const common = { ...base, orderId, reference: intent.id };
        if (event.type === 'payment_intent.succeeded') {
          const amount = fromStripeAmount(intent.amount_received, currency);
          if (amount === undefined) return malformedAmount(event.id, event.type, orderId);
          return { kind: 'report', report: { ...common, kind: 'paid', amount, currency } };
        }
        if (event.type === 'payment_intent.canceled') {
          const reason = `PaymentIntent canceled${intent.cancellation_reason ? `: ${intent.cancellation_reason}` : ''}`;
          return { kind: 'report', report: { ...common, kind: 'cancelled', reason } };
        }
        const reason = intent.last_payment_error?.message || intent.last_payment_error?.code || 'payment failed';
        return { kind: 'report', report: { ...common, kind: 'failed', reason } };
      }
      case 'charge.refunded': {
        const { charge } = event;
        const intentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
        if (!intentId) return { kind: 'ignored', eventId: event.id, reason: 'the charge has no PaymentIntent' };
        const orderId = orderIdFrom(charge.metadata?.orderId) ?? orderIdFrom(await this.lookupForWebhook(intentId));
        if (!orderId) return { kind: 'ignored', eventId: event.id, reason: 'the PaymentIntent names no order' };
        const currency = charge.currency.toUpperCase();
        const amount = fromStripeAmount(charge.amount_refunded, currency);
        if (amount === undefined) return malformedAmount(event.id, 'charge.refunded', orderId);
        const refundId = charge.refunds?.data?.[0]?.id;
        return {
          kind: 'report',
          report: { ...base, kind: 'refunded', orderId, reference: intentId, amount, currency, ...(refundId ? { refundId } : {}) },
        };
      }
      default: {
        const exhaustive: never = event;
        return exhaustive;
      }
    }
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

function malformedAmount(eventId: string, eventType: string, orderId: string): WebhookOutcome {
  return { kind: 'ignored', eventId, eventType, reason: 'the amount is not exact in the currency', malformed: true, orderId };
}

const webhookEnvelopeSchema = z.object({ id: stripeId, type: z.string().min(1).max(255), data: z.object({ object: z.unknown() }) });

const paymentIntentEventObjectSchema = z.object({
  id: stripeId,
  amount_received: stripeAmount,
  currency: stripeCurrency,
  metadata: stripeMetadata,
  cancellation_reason: z.string().max(500).nullish(),
  last_payment_error: z.object({ message: z.string().max(5000).nullish(), code: z.string().max(255).nullish() }).nullish(),
});

const chargeEventObjectSchema = z.object({
  id: stripeId,
  payment_intent: z.union([stripeId, z.object({ id: stripeId })]).nullish(),
  amount_refunded: stripeAmount,
  currency: stripeCurrency,
  metadata: stripeMetadata,
  refunds: z.object({ data: z.array(z.object({ id: stripeId })).nullish() }).nullish(),
});

export type StripePaymentIntentEventType = 'payment_intent.succeeded' | 'payment_intent.payment_failed' | 'payment_intent.canceled';

/** A verified Stripe event, checked against the fields we use; anything else is `malformed` or `other`. */
export type StripeWebhookEvent =
  | { kind: 'payment_intent'; id: string; type: StripePaymentIntentEventType; intent: z.infer<typeof paymentIntentEventObjectSchema> }
  | { kind: 'charge.refunded'; id: string; charge: z.infer<typeof chargeEventObjectSchema> }
  | { kind: 'other'; id: string; type: string }
  /** Signed by Stripe but unusable: answered 200 (Stripe would redeliver a non-2xx for days), logged. */
  | { kind: 'malformed'; id: string | undefined; type: string | undefined; problem: string };

/** Where a provider payload failed a schema: paths and zod's words, never the values (they may be anything). */
export function schemaProblem(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

const paymentIntentEventTypes: ReadonlySet<string> = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled']);

export function parseStripeEvent(payload: unknown): StripeWebhookEvent {
  const envelope = webhookEnvelopeSchema.safeParse(payload);
  if (!envelope.success) {
    const raw = payload as { id?: unknown; type?: unknown } | null;
    const text = (value: unknown): string | undefined => (typeof value === 'string' ? value.slice(0, 255) : undefined);
    return { kind: 'malformed', id: text(raw?.id), type: text(raw?.type), problem: `the event is malformed (${schemaProblem(envelope.error)})` };
  }
  const { id, type, data } = envelope.data;
  if (paymentIntentEventTypes.has(type)) {
    const intent = paymentIntentEventObjectSchema.safeParse(data.object);
    if (!intent.success) return { kind: 'malformed', id, type, problem: `the PaymentIntent is malformed (${schemaProblem(intent.error)})` };
    return { kind: 'payment_intent', id, type: type as StripePaymentIntentEventType, intent: intent.data };
  }
  if (type === 'charge.refunded') {
    const charge = chargeEventObjectSchema.safeParse(data.object);
    if (!charge.success) return { kind: 'malformed', id, type, problem: `the charge is malformed (${schemaProblem(charge.error)})` };
    return { kind: 'charge.refunded', id, charge: charge.data };
  }
  return { kind: 'other', id, type };
}

/**
 * Verifies Stripe-Signature over the exact bytes received (default tolerance: five minutes) and
 * parses the event. A signature that does not verify is a 400 and nothing is recorded; a verified
 * body that is not a usable event comes back as `malformed`.
 */
export function verifyStripeWebhook(rawBody: Buffer, signature: string | undefined, secret: string): StripeWebhookEvent {
  if (!signature) throw new ValidationError('Missing Stripe-Signature header', undefined, 'WEBHOOK_SIGNATURE_MISSING');
  try {
    const verifier = Stripe.webhooks.signature;
    if (!verifier) throw new Error('the Stripe SDK has no signature verifier');
    verifier.verifyHeader(rawBody, signature, secret);
  } catch {
    throw new ValidationError('Stripe-Signature does not verify against the body', undefined, 'WEBHOOK_SIGNATURE_INVALID');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return { kind: 'malformed', id: undefined, type: undefined, problem: 'the body is not JSON' };
  }
  return parseStripeEvent(payload);
}

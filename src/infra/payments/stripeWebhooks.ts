import Stripe from 'stripe';
import { z } from 'zod';
import { ValidationError } from '../../errors';
import { fromStripeAmount } from '../../events/money';
import { orderIdFrom, schemaProblem, type WebhookOutcome } from './paymentProvider';

export const stripeId = z.string().min(1).max(255);
export const stripeCurrency = z.string().regex(/^[A-Za-z]{3}$/, 'not a three-letter currency code');
export const stripeAmount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const stripeMetadata = z.record(z.string(), z.string()).nullish();

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

/**
 * A verified Stripe event as a report: payment_intent.succeeded
 * is `paid`, payment_failed `failed`, canceled `cancelled`, charge.refunded `refunded` with the
 * charge's total refunded so far.
 */
export async function translateStripeEvent(event: StripeWebhookEvent, orderIdOfIntent: (intentId: string) => Promise<string | undefined>): Promise<WebhookOutcome> {
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
      const orderId = orderIdFrom(charge.metadata?.orderId) ?? orderIdFrom(await orderIdOfIntent(intentId));
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

function malformedAmount(eventId: string, eventType: string, orderId: string): WebhookOutcome {
  return { kind: 'ignored', eventId, eventType, reason: 'the amount is not exact in the currency', malformed: true, orderId };
}

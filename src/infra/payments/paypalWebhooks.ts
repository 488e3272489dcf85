import { z } from 'zod';
import { ValidationError } from '../../errors';
import { fromPayPalValue } from '../../events/money';
import {
  orderIdFrom,
  PaymentProviderError,
  PaymentProviderNotConfiguredError,
  schemaProblem,
  unavailableForRedelivery,
  type ProviderReport,
  type WebhookDelivery,
  type WebhookOutcome,
} from './paymentProvider';
import type { PayPalCapture } from './paypalProvider';

/** What the webhook needs from the PayPal client: PayPal's verdict on a notification, and a capture lookup. */
export interface PayPalVerifier {
  verifyWebhook(headers: PayPalWebhookHeaders, rawBody: string): Promise<boolean>;
  getCapture(captureId: string): Promise<PayPalCapture>;
  /** The capture a refund belongs to, asked of PayPal (for a notification whose refund lacks its `up` link). */
  captureIdOfRefund(refundId: string): Promise<string | undefined>;
}

const webhookId = z.string().min(1).max(255);
const webhookMoney = z.object({ currency_code: z.string().regex(/^[A-Za-z]{3}$/, 'not a three-letter currency code'), value: z.string().max(32) });
const captureResourceSchema = z.object({
  id: webhookId,
  status: z.string().max(64).optional(),
  amount: webhookMoney.optional(),
  custom_id: z.string().max(255).optional(),
  supplementary_data: z.object({ related_ids: z.object({ order_id: webhookId.optional() }).optional() }).optional(),
});
const refundResourceSchema = z.object({
  id: webhookId,
  status: z.string().max(64).optional(),
  amount: webhookMoney.optional(),
  custom_id: z.string().max(255).optional(),
  links: z
    .array(z.object({ href: z.string().max(2048), rel: z.string().max(64) }))
    .max(50)
    .optional(),
  seller_payable_breakdown: z.object({ total_refunded_amount: webhookMoney.optional() }).optional(),
});
/** The capture id in a refund's `up` link (`…/v2/payments/captures/<id>`). */
export function captureIdFromLinks(links: readonly { rel: string; href: string }[] | undefined): string | undefined {
  return links?.find((l) => l.rel === 'up')?.href.match(/\/captures\/([A-Za-z0-9-]{1,64})$/)?.[1];
}

/** The envelope of a PayPal webhook event (what the OpenAPI document shows). */
export const paypalWebhookEventSchema = z.object({ id: webhookId, event_type: z.string().min(1).max(255), resource: z.unknown() });
export type PayPalWebhookEvent = z.infer<typeof paypalWebhookEventSchema>;

export const paypalWebhookHeaders = ['paypal-auth-algo', 'paypal-cert-url', 'paypal-transmission-id', 'paypal-transmission-sig', 'paypal-transmission-time'] as const;
export type PayPalWebhookHeaders = Record<(typeof paypalWebhookHeaders)[number], string>;

/**
 * A PayPal webhook delivery: checks the signature headers, asks PayPal whether the notification is genuine (the raw bytes,
 * as signed), and translates it: PAYMENT.CAPTURE.COMPLETED is `paid`, DENIED `failed`, REFUNDED
 * `refunded` with the capture's total refunded so far.
 */
export async function receivePayPalWebhook(paypal: PayPalVerifier, webhookId: string | undefined, delivery: WebhookDelivery): Promise<WebhookOutcome> {
  if (!webhookId) throw new PaymentProviderNotConfiguredError('PAYPAL', ['PAYPAL_WEBHOOK_ID']);
  const headers: Partial<PayPalWebhookHeaders> = {};
  for (const name of paypalWebhookHeaders) {
    const value = delivery.header(name);
    if (value) headers[name] = value;
  }
  const missing = paypalWebhookHeaders.filter((name) => !headers[name]);
  if (missing.length > 0) throw new ValidationError(`Missing PayPal signature headers: ${missing.join(', ')}`, undefined, 'WEBHOOK_SIGNATURE_MISSING');
  const body = delivery.rawBody.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ValidationError('Webhook body is not JSON', undefined, 'MALFORMED_JSON');
  }
  const event = paypalWebhookEventSchema.safeParse(parsed);
  if (!event.success) throw new ValidationError('Webhook body is not a PayPal event', undefined, 'WEBHOOK_MALFORMED');
  let verified: boolean;
  try {
    verified = await paypal.verifyWebhook(headers as PayPalWebhookHeaders, body);
  } catch (error) {
    if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
    throw error;
  }
  if (!verified) throw new ValidationError('PayPal did not verify this notification', undefined, 'WEBHOOK_SIGNATURE_INVALID');
  return translate(paypal, event.data);
}

async function translate(paypal: PayPalVerifier, event: PayPalWebhookEvent): Promise<WebhookOutcome> {
  const ignored = (reason: string, extra: { malformed?: boolean; orderId?: string } = {}): WebhookOutcome => ({
    kind: 'ignored',
    eventId: event.id,
    eventType: event.event_type,
    reason,
    ...extra,
  });
  const base = { provider: 'PAYPAL' as const, eventId: event.id, via: 'webhook' as const };
  switch (event.event_type) {
    case 'PAYMENT.CAPTURE.COMPLETED':
    case 'PAYMENT.CAPTURE.DENIED': {
      const parsed = captureResourceSchema.safeParse(event.resource);
      if (!parsed.success) return ignored(`the capture resource is malformed (${schemaProblem(parsed.error)})`, { malformed: true });
      const capture = parsed.data;
      const orderId = orderIdFrom(capture.custom_id);
      if (!orderId) return ignored('the capture names no order');
      const paypalOrderId = capture.supplementary_data?.related_ids?.order_id;
      const reference = paypalOrderId ? { reference: paypalOrderId } : {};
      if (event.event_type === 'PAYMENT.CAPTURE.DENIED') {
        return { kind: 'report', report: { ...base, ...reference, kind: 'failed', orderId, reason: 'PayPal capture denied' } };
      }
      const currency = capture.amount?.currency_code.toUpperCase();
      const amount = capture.amount && currency ? fromPayPalValue(capture.amount.value, currency) : undefined;
      if (amount === undefined || !currency) return ignored('the capture amount is malformed', { malformed: true, orderId });
      return { kind: 'report', report: { ...base, ...reference, kind: 'paid', orderId, amount, currency } };
    }
    case 'PAYMENT.CAPTURE.REFUNDED': {
      const parsed = refundResourceSchema.safeParse(event.resource);
      if (!parsed.success) return ignored(`the refund resource is malformed (${schemaProblem(parsed.error)})`, { malformed: true });
      const refund = parsed.data;
      let capture: PayPalCapture;
      try {
        // Refunds made in PayPal's dashboard may arrive without the link to their capture: PayPal knows it.
        const captureId = captureIdFromLinks(refund.links) ?? (await paypal.captureIdOfRefund(refund.id));
        if (!captureId) return ignored('the refund names no capture');
        capture = await paypal.getCapture(captureId);
      } catch (error) {
        if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
        throw error;
      }
      const orderId = orderIdFrom(capture.customId ?? refund.custom_id);
      if (!orderId) return ignored('the refunded capture names no order');
      const total = refund.seller_payable_breakdown?.total_refunded_amount ?? (capture.status === 'REFUNDED' ? capture.amount : undefined) ?? refund.amount;
      const currency = (typeof total === 'number' ? capture.currency : total?.currency_code)?.toUpperCase();
      const amount = typeof total === 'number' ? total : total && currency ? fromPayPalValue(total.value, currency) : undefined;
      if (amount === undefined || !currency) return ignored('the refund amount is malformed', { malformed: true, orderId });
      const report: ProviderReport = {
        ...base,
        kind: 'refunded',
        orderId,
        ...(capture.paypalOrderId ? { reference: capture.paypalOrderId } : {}),
        amount,
        currency,
        refundId: refund.id,
      };
      return { kind: 'report', report };
    }
    default:
      return ignored(`event type ${event.event_type} is not handled`);
  }
}

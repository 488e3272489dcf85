import type { z } from 'zod';
import { AppError, UnavailableError } from '../../errors';

export type ProviderMethod = 'STRIPE' | 'PAYPAL';

/** What a client needs to finish paying: Stripe's client secret or PayPal's approval page. */
export interface PaymentSession {
  /** The provider's id for this payment attempt (PaymentIntent id, PayPal order id). */
  reference: string;
  clientSecret?: string;
  paymentUrl?: string;
}

export interface RefundResult {
  /** `pending`: the provider confirms later, by webhook. */
  status: 'succeeded' | 'pending' | 'failed';
  refundId: string;
  amount: number;
  currency: string;
  failureReason?: string;
}

/**
 * What a provider tells us about an order, in one neutral shape whatever the provider and whatever
 * carried it (a webhook, a capture's answer, a synchronous refund). Amounts are our minor units.
 * A pure function turns it into an order command (src/commands/payments/providerReports.ts).
 */
export type ProviderReport =
  | (ReportBase & { kind: 'paid'; amount: number; currency: string })
  | (ReportBase & { kind: 'failed' | 'cancelled'; reason: string })
  | (ReportBase & {
      kind: 'refunded';
      /**
       * The total the provider has refunded for the payment so far (not this refund's own amount):
       * repeated and out-of-order deliveries carry the same fact, and partial refunds add up here.
       */
      amount: number;
      currency: string;
      /** The provider's id for the refund. */
      refundId?: string;
    });

interface ReportBase {
  provider: ProviderMethod;
  /** The provider's id for what it sent (webhook event, capture, refund): one report per id. */
  eventId: string;
  /** How the report reached us; with eventId it names the report (idempotency). */
  via: 'webhook' | 'capture' | 'refund';
  orderId: string;
  /** paid/failed/cancelled: the payment attempt (PaymentIntent, PayPal order); refunded: the payment given back. */
  reference?: string;
}

export type ProviderReportKind = ProviderReport['kind'];

/** A webhook delivery as received: the exact bytes (signatures cover them) and the headers. */
export interface WebhookDelivery {
  rawBody: Buffer;
  header(name: string): string | undefined;
}

/**
 * A verified delivery: a report, or a reason it says nothing we act on. `malformed`: signed by the
 * provider but unusable; answered 200 (a redelivery could not fix it) and logged loudly.
 */
export type WebhookOutcome =
  { kind: 'report'; report: ProviderReport } | { kind: 'ignored'; eventId?: string; eventType?: string; reason: string; malformed?: boolean; orderId?: string };

/**
 * One payment provider. Every call has a timeout and a bounded number of retries; the same
 * idempotency key always means the same attempt or refund at the provider. The adapter converts
 * amounts between our minor units and the provider's, and verifies its own webhooks.
 */
export interface PaymentProvider {
  readonly method: ProviderMethod;
  createPayment(input: { orderId: string; amount: number; currency: string; idempotencyKey: string }): Promise<PaymentSession>;
  /** The attempt again, so a client can continue it; undefined when it can no longer be paid. */
  resumePayment(reference: string): Promise<PaymentSession | undefined>;
  refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult>;
  /**
   * Verifies a webhook delivery (a bad or missing signature is a 400 ValidationError, nothing is
   * recorded) and translates it. A lookup the translation needs failing is an UnavailableError, so
   * the provider delivers again.
   */
  receiveWebhook(delivery: WebhookDelivery): Promise<WebhookOutcome>;
  /**
   * Stops an open payment attempt so it can no longer take money (the order was cancelled or its
   * payment window expired). `cancelled`: nothing can be paid on it any more (also when it already
   * was cancelled); `paid`: the money was already taken, and the provider's report will say so.
   */
  cancelPayment(reference: string): Promise<'cancelled' | 'paid'>;
}

/** A provider whose buyer approves first and the shop captures after (PayPal). */
export interface CapturingProvider extends PaymentProvider {
  /**
   * Captures an approved payment; asking again returns the capture already made. A refusal the
   * buyer can act on (not approved, declined) is a ConflictError PAYMENT_CAPTURE_REFUSED.
   */
  capture(orderId: string, reference: string): Promise<CaptureOutcome | undefined>;
  /**
   * Our order id for a payment reference the buyer's browser brought back (PayPal's `token`), as
   * the provider records it; undefined when the provider knows no such payment.
   */
  orderIdOf(reference: string): Promise<string | undefined>;
}

export interface CaptureOutcome {
  id: string;
  status: string;
  /** Paid or failed; absent while the capture is pending (a webhook settles it). */
  report?: ProviderReport;
}

export const providerNames: Record<ProviderMethod, string> = { STRIPE: 'Stripe', PAYPAL: 'PayPal' };

export class PaymentProviderNotConfiguredError extends UnavailableError {
  constructor(method: ProviderMethod, missing: string[]) {
    super('PAYMENT_PROVIDER_NOT_CONFIGURED', `${providerNames[method]} payments are not configured: set ${missing.join(' and ')}`, { provider: method, missing });
  }
}

/**
 * A provider call failed. `transient` (timeouts, network errors, 5xx, rate limits) may succeed when
 * retried with the same idempotency key; the others will not. The message is plain (which provider,
 * which operation); the provider's own words (`reason`) go to the log only, as `logDetail`.
 */
export class PaymentProviderError extends AppError {
  constructor(
    readonly method: ProviderMethod,
    readonly operation: string,
    readonly reason: string,
    readonly transient: boolean,
    readonly timedOut = false,
  ) {
    super('bad_gateway', timedOut ? 'PAYMENT_PROVIDER_TIMEOUT' : 'PAYMENT_PROVIDER_ERROR', `${providerNames[method]} ${operation} failed${timedOut ? ' (timeout)' : ''}`, {
      provider: method,
      operation,
    });
    this.logDetail = `${providerNames[method]} ${operation}: ${reason}`;
  }

  /** The same failure with a message saying what it means for the caller's order. */
  withContext(message: string, details: Record<string, unknown>): AppError {
    const error = new AppError(this.kind, this.code, `${this.message}. ${message}`, { provider: this.method, operation: this.operation, ...details });
    error.logDetail = this.logDetail;
    return error;
  }
}

/** A provider lookup failed while handling its webhook: answer non-2xx so the provider delivers again. */
export function unavailableForRedelivery(error: PaymentProviderError): UnavailableError {
  const unavailable = new UnavailableError('PAYMENT_PROVIDER_UNAVAILABLE', `${error.message}; deliver the event again later`);
  unavailable.logDetail = error.logDetail;
  return unavailable;
}

const orderIdSchema = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Our order id as a provider echoes it back (metadata, custom_id); undefined when it is not one. */
export function orderIdFrom(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && orderIdSchema.test(value) ? value.toLowerCase() : undefined;
}

/** Where a provider payload failed a schema: paths and zod's words, never the values (they may be anything). */
export function schemaProblem(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

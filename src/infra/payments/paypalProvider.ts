import { z } from 'zod';
import { formatAmount, fromPayPalValue, toPayPalValue } from '../../events/money';
import { ConflictError, ValidationError } from '../../errors';
import {
  orderIdFrom,
  PaymentProviderError,
  PaymentProviderNotConfiguredError,
  unavailableForRedelivery,
  type CaptureOutcome,
  type CapturingProvider,
  type PaymentSession,
  type ProviderReport,
  type RefundResult,
  type WebhookDelivery,
  type WebhookOutcome,
} from './paymentProvider';
import { schemaProblem } from './stripeProvider';

export interface PayPalSettings {
  clientId: string;
  clientSecret: string;
  /** https://api-m.sandbox.paypal.com or https://api-m.paypal.com. */
  apiBase: string;
  webhookId: string | undefined;
  returnUrl: string;
  cancelUrl: string;
  timeoutMs: number;
  /** Extra attempts for network errors, timeouts, 429 and 5xx on requests that are safe to repeat. */
  maxRetries: number;
  now?: () => number;
}

/** A PayPal answer that was not 2xx: the HTTP status and PayPal's first issue code, when it gave one. */
export class PayPalRequestError extends PaymentProviderError {
  constructor(
    operation: string,
    reason: string,
    transient: boolean,
    timedOut: boolean,
    readonly status: number | undefined,
    readonly issue: string | undefined,
  ) {
    super('PAYPAL', operation, reason, transient, timedOut);
  }
}

const linkSchema = z.object({ href: z.string(), rel: z.string() });
const moneySchema = z.object({ currency_code: z.string(), value: z.string() });

const captureSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  amount: moneySchema.optional(),
  custom_id: z.string().optional(),
  supplementary_data: z.object({ related_ids: z.object({ order_id: z.string().optional() }).optional() }).optional(),
});

const orderSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  links: z.array(linkSchema).optional(),
  purchase_units: z
    .array(
      z.object({
        custom_id: z.string().optional(),
        payments: z.object({ captures: z.array(captureSchema).optional() }).optional(),
      }),
    )
    .optional(),
});

const refundSchema = z.object({
  id: z.string().min(1),
  status: z.string(),
  amount: moneySchema.optional(),
  status_details: z.object({ reason: z.string().optional() }).optional(),
});

const tokenSchema = z.object({ access_token: z.string().min(1), expires_in: z.number().int().positive() });
const verificationSchema = z.object({ verification_status: z.string() });
const errorBodySchema = z.object({
  name: z.string().optional(),
  message: z.string().optional(),
  details: z.array(z.object({ issue: z.string().optional(), description: z.string().optional() })).optional(),
});

export interface PayPalCapture {
  id: string;
  status: string;
  amount: number | undefined;
  currency: string | undefined;
  /** Our order id, when PayPal echoes it. */
  customId: string | undefined;
  /** The PayPal order the capture belongs to. */
  paypalOrderId: string | undefined;
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
  links: z.array(z.object({ href: z.string().max(2048), rel: z.string().max(64) })).max(50).optional(),
  seller_payable_breakdown: z.object({ total_refunded_amount: webhookMoney.optional() }).optional(),
});
/** The envelope of a PayPal webhook event (what the OpenAPI document shows). */
export const paypalWebhookEventSchema = z.object({ id: webhookId, event_type: z.string().min(1).max(255), resource: z.unknown() });
export type PayPalWebhookEvent = z.infer<typeof paypalWebhookEventSchema>;

export const paypalWebhookHeaders = ['paypal-auth-algo', 'paypal-cert-url', 'paypal-transmission-id', 'paypal-transmission-sig', 'paypal-transmission-time'] as const;
export type PayPalWebhookHeaders = Record<(typeof paypalWebhookHeaders)[number], string>;

function toCapture(parsed: z.infer<typeof captureSchema>, paypalOrderId?: string): PayPalCapture {
  const currency = parsed.amount?.currency_code.toUpperCase();
  return {
    id: parsed.id,
    status: parsed.status,
    amount: parsed.amount && currency ? fromPayPalValue(parsed.amount.value, currency) : undefined,
    currency,
    customId: parsed.custom_id,
    paypalOrderId: parsed.supplementary_data?.related_ids?.order_id ?? paypalOrderId,
  };
}

/** PayPal ids are short upper-case tokens; anything else never reaches a URL path. */
function pathId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new PaymentProviderError('PAYPAL', 'request', `malformed PayPal id "${id.slice(0, 80)}"`, false);
  return id;
}

/** PayPal's `value` for an amount; an amount PayPal cannot take exactly (HUF 175.50) is refused before any call. */
function paypalValue(operation: string, amount: number, currency: string): string {
  const value = toPayPalValue(amount, currency);
  if (value === undefined) throw new PaymentProviderError('PAYPAL', operation, `${formatAmount(amount, currency)} has no exact PayPal amount`, false);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * PayPal Orders v2 and Payments v2 over fetch. An OAuth2 client-credentials token is cached until
 * shortly before it expires and fetched once however many requests wait for it.
 */
export class PayPalProvider implements CapturingProvider {
  readonly method = 'PAYPAL' as const;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenRequest: Promise<string> | undefined;
  private readonly now: () => number;

  constructor(private readonly settings: PayPalSettings) {
    this.now = settings.now ?? Date.now;
  }

  private url(path: string): string {
    return `${this.settings.apiBase.replace(/\/+$/, '')}${path}`;
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAt) return this.token.value;
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const basic = Buffer.from(`${this.settings.clientId}:${this.settings.clientSecret}`).toString('base64');
    const body = await this.send('authentication', 'POST', '/v1/oauth2/token', {
      headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      repeatable: true,
    });
    const parsed = tokenSchema.safeParse(body);
    if (!parsed.success) throw new PaymentProviderError('PAYPAL', 'authentication', 'the token answer is malformed', false);
    // Renew a minute early so a token never expires between this check and PayPal's.
    const lifetimeMs = Math.max(0, parsed.data.expires_in - 60) * 1000;
    this.token = { value: parsed.data.access_token, expiresAt: this.now() + lifetimeMs };
    return parsed.data.access_token;
  }

  /** One HTTP exchange with bounded retries; returns the parsed JSON body (or undefined when empty). */
  private async send(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    options: { headers: Record<string, string>; body?: string; repeatable: boolean },
  ): Promise<unknown> {
    const attempts = 1 + (options.repeatable ? this.settings.maxRetries : 0);
    for (let attempt = 1; ; attempt++) {
      let failure: PayPalRequestError;
      try {
        const response = await fetch(this.url(path), {
          method,
          headers: { Accept: 'application/json', ...options.headers },
          ...(options.body !== undefined ? { body: options.body } : {}),
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        });
        const text = await response.text();
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        if (response.ok) return json;
        const parsed = errorBodySchema.safeParse(json);
        const issue = parsed.success ? (parsed.data.details?.[0]?.issue ?? parsed.data.name) : undefined;
        const description = parsed.success ? (parsed.data.details?.[0]?.description ?? parsed.data.message) : undefined;
        const transient = response.status === 429 || response.status >= 500;
        failure = new PayPalRequestError(
          operation,
          `HTTP ${response.status}${issue ? ` ${issue}` : ''}${description ? `: ${description}` : ''}`,
          transient,
          false,
          response.status,
          issue,
        );
      } catch (error) {
        const name = (error as Error).name;
        const timedOut = name === 'TimeoutError' || name === 'AbortError';
        failure = new PayPalRequestError(
          operation,
          timedOut ? `no answer within ${this.settings.timeoutMs} ms` : `network error: ${(error as Error).message}`,
          true,
          timedOut,
          undefined,
          undefined,
        );
      }
      if (!failure.transient || attempt >= attempts) throw failure;
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }

  /** An authenticated JSON call; a rejected token is dropped and the call made once more. */
  private async api(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    options: { body?: unknown; rawBody?: string; requestId?: string } = {},
  ): Promise<unknown> {
    const repeatable = method === 'GET' || options.requestId !== undefined || options.rawBody !== undefined;
    for (let attempt = 1; ; attempt++) {
      const token = await this.accessToken();
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Prefer: 'return=representation' };
      if (options.body !== undefined || options.rawBody !== undefined) headers['Content-Type'] = 'application/json';
      if (options.requestId) headers['PayPal-Request-Id'] = options.requestId;
      const body = options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
      try {
        return await this.send(operation, method, path, { headers, ...(body !== undefined ? { body } : {}), repeatable });
      } catch (error) {
        if (error instanceof PayPalRequestError && error.status === 401 && error.operation !== 'authentication' && attempt === 1) {
          this.token = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  private parse<S extends z.ZodType>(operation: string, schema: S, body: unknown): z.infer<S> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new PaymentProviderError('PAYPAL', operation, 'the answer is malformed', false);
    return parsed.data;
  }

  private session(order: z.infer<typeof orderSchema>): PaymentSession {
    const link = order.links?.find((l) => l.rel === 'payer-action') ?? order.links?.find((l) => l.rel === 'approve');
    return { reference: order.id, ...(link ? { paymentUrl: link.href } : {}) };
  }

  async createPayment(input: { orderId: string; amount: number; currency: string; idempotencyKey: string }): Promise<PaymentSession> {
    const operation = 'order creation';
    const body = await this.api(operation, 'POST', '/v2/checkout/orders', {
      requestId: input.idempotencyKey,
      body: {
        intent: 'CAPTURE',
        purchase_units: [
          {
            reference_id: input.orderId,
            custom_id: input.orderId,
            amount: { currency_code: input.currency, value: paypalValue(operation, input.amount, input.currency) },
          },
        ],
        payment_source: {
          paypal: {
            experience_context: {
              return_url: this.settings.returnUrl,
              cancel_url: this.settings.cancelUrl,
              user_action: 'PAY_NOW',
              shipping_preference: 'NO_SHIPPING',
            },
          },
        },
      },
    });
    const session = this.session(this.parse(operation, orderSchema, body));
    if (!session.paymentUrl) throw new PaymentProviderError('PAYPAL', operation, 'the answer has no approval link', false);
    return session;
  }

  async getOrder(paypalOrderId: string): Promise<z.infer<typeof orderSchema>> {
    return this.parse('order lookup', orderSchema, await this.api('order lookup', 'GET', `/v2/checkout/orders/${pathId(paypalOrderId)}`));
  }

  async resumePayment(reference: string): Promise<PaymentSession | undefined> {
    const order = await this.getOrder(reference);
    if (order.status === 'VOIDED') return undefined;
    return this.session(order);
  }

  /** Captures an approved order; asking again returns the capture already made. */
  async captureOrder(paypalOrderId: string): Promise<PayPalCapture | undefined> {
    const operation = 'capture';
    let order: z.infer<typeof orderSchema>;
    try {
      const body = await this.api(operation, 'POST', `/v2/checkout/orders/${pathId(paypalOrderId)}/capture`, {
        requestId: `capture-${paypalOrderId}`,
        body: {},
      });
      order = this.parse(operation, orderSchema, body);
    } catch (error) {
      if (!(error instanceof PayPalRequestError) || error.issue !== 'ORDER_ALREADY_CAPTURED') throw error;
      order = await this.getOrder(paypalOrderId);
    }
    const capture = order.purchase_units?.[0]?.payments?.captures?.[0];
    return capture ? toCapture(capture, order.id) : undefined;
  }

  async getCapture(captureId: string): Promise<PayPalCapture> {
    const body = await this.api('capture lookup', 'GET', `/v2/payments/captures/${pathId(captureId)}`);
    return toCapture(this.parse('capture lookup', captureSchema, body));
  }

  async refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult> {
    const operation = 'refund';
    const order = await this.getOrder(input.paymentReference);
    const captures = order.purchase_units?.flatMap((unit) => unit.payments?.captures ?? []) ?? [];
    const capture = captures.find((c) => c.status === 'COMPLETED' || c.status === 'PARTIALLY_REFUNDED' || c.status === 'REFUNDED');
    if (!capture) throw new PaymentProviderError('PAYPAL', operation, `PayPal order ${input.paymentReference} has no completed capture to refund`, false);
    const body = await this.api(operation, 'POST', `/v2/payments/captures/${pathId(capture.id)}/refund`, {
      requestId: input.idempotencyKey,
      body: {
        amount: { currency_code: input.currency, value: paypalValue(operation, input.amount, input.currency) },
        custom_id: input.orderId,
      },
    });
    const refund = this.parse(operation, refundSchema, body);
    const currency = refund.amount?.currency_code.toUpperCase() ?? input.currency;
    const amount = refund.amount ? (fromPayPalValue(refund.amount.value, currency) ?? input.amount) : input.amount;
    const status = refund.status === 'COMPLETED' ? 'succeeded' : refund.status === 'PENDING' ? 'pending' : 'failed';
    return {
      status,
      refundId: refund.id,
      amount,
      currency,
      ...(status === 'failed' ? { failureReason: refund.status_details?.reason ?? refund.status } : {}),
    };
  }

  /**
   * Captures an approved order and says what it means: `paid` (COMPLETED), `failed` (DECLINED,
   * FAILED), or no report while PENDING (PAYMENT.CAPTURE.COMPLETED or DENIED settles it later).
   * PayPal refusing because the buyer has not approved, or their funding was declined, is a 409 the
   * buyer can act on; PayPal's own issue code stays in the log detail.
   */
  async capture(orderId: string, reference: string): Promise<CaptureOutcome | undefined> {
    let capture: PayPalCapture | undefined;
    try {
      capture = await this.captureOrder(reference);
    } catch (error) {
      if (error instanceof PayPalRequestError && error.status === 422) {
        const why =
          error.issue === 'ORDER_NOT_APPROVED'
            ? 'the buyer has not approved the payment yet'
            : error.issue === 'INSTRUMENT_DECLINED'
              ? "the buyer's funding source was declined; send them back to the approval link"
              : 'PayPal refused the capture';
        const refused = new ConflictError('PAYPAL_CAPTURE_REFUSED', `Cannot capture order ${orderId}: ${why}`, { orderId });
        refused.logDetail = `PayPal issue ${error.issue ?? '(none)'}: ${error.logDetail ?? ''}`;
        throw refused;
      }
      throw error;
    }
    if (!capture) return undefined;
    const paypalOrderId = capture.paypalOrderId ?? reference;
    const base = { provider: 'PAYPAL' as const, eventId: capture.id, via: 'capture' as const, orderId, reference: paypalOrderId };
    if (capture.status === 'COMPLETED') {
      if (capture.amount === undefined || !capture.currency) throw new PaymentProviderError('PAYPAL', 'capture', 'the capture amount is malformed', false);
      return { id: capture.id, status: capture.status, report: { ...base, kind: 'paid', amount: capture.amount, currency: capture.currency } };
    }
    if (capture.status === 'DECLINED' || capture.status === 'FAILED') {
      return { id: capture.id, status: capture.status, report: { ...base, kind: 'failed', reason: `PayPal capture ${capture.status.toLowerCase()}` } };
    }
    return { id: capture.id, status: capture.status };
  }

  /**
   * Checks the signature headers, asks PayPal whether the notification is genuine (the raw bytes,
   * as signed), and translates it: PAYMENT.CAPTURE.COMPLETED is `paid`, DENIED `failed`, REFUNDED
   * `refunded` with the capture's total refunded so far.
   */
  async receiveWebhook(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    if (!this.settings.webhookId) throw new PaymentProviderNotConfiguredError('PAYPAL', ['PAYPAL_WEBHOOK_ID']);
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
      verified = await this.verifyWebhook(headers as PayPalWebhookHeaders, body);
    } catch (error) {
      if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
      throw error;
    }
    if (!verified) throw new ValidationError('PayPal did not verify this notification', undefined, 'WEBHOOK_SIGNATURE_INVALID');
    return this.translate(event.data);
  }

  private async translate(event: PayPalWebhookEvent): Promise<WebhookOutcome> {
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
        const captureId = refund.links?.find((l) => l.rel === 'up')?.href.match(/\/captures\/([A-Za-z0-9-]{1,64})$/)?.[1];
        if (!captureId) return ignored('the refund names no capture');
        let capture: PayPalCapture;
        try {
          capture = await this.getCapture(captureId);
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

  /**
   * Asks PayPal whether a notification is genuine. The raw body is spliced in unchanged: re-encoding
   * parsed JSON can change bytes and fail verification. The certificate URL is passed to PayPal,
   * never fetched here.
   */
  async verifyWebhook(headers: PayPalWebhookHeaders, rawBody: string): Promise<boolean> {
    if (!this.settings.webhookId) throw new PaymentProviderError('PAYPAL', 'webhook verification', 'PAYPAL_WEBHOOK_ID is not set', false);
    const envelope = JSON.stringify({
      auth_algo: headers['paypal-auth-algo'],
      cert_url: headers['paypal-cert-url'],
      transmission_id: headers['paypal-transmission-id'],
      transmission_sig: headers['paypal-transmission-sig'],
      transmission_time: headers['paypal-transmission-time'],
      webhook_id: this.settings.webhookId,
    });
    const rawBodyEnvelope = `${envelope.slice(0, -1)},"webhook_event":${rawBody}}`;
    const body = await this.api('webhook verification', 'POST', '/v1/notifications/verify-webhook-signature', { rawBody: rawBodyEnvelope });
    return this.parse('webhook verification', verificationSchema, body).verification_status === 'SUCCESS';
  }
}

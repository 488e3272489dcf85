import { z } from 'zod';
import { formatAmount, fromPayPalValue, toPayPalValue } from '../../events/money';
import { ConflictError } from '../../errors';
import {
  PaymentProviderError,
  type CaptureOutcome,
  type CapturingProvider,
  type PaymentSession,
  type RefundResult,
  type WebhookDelivery,
  type WebhookOutcome,
} from './paymentProvider';
import { captureIdFromLinks, receivePayPalWebhook, type PayPalWebhookHeaders } from './paypalWebhooks';

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

const refundLookupSchema = z.object({ id: z.string().min(1), links: z.array(linkSchema).optional() });

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
  private async send(operation: string, method: 'GET' | 'POST', path: string, options: { headers: Record<string, string>; body?: string; repeatable: boolean }): Promise<unknown> {
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
  private async api(operation: string, method: 'GET' | 'POST', path: string, options: { body?: unknown; rawBody?: string; requestId?: string } = {}): Promise<unknown> {
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

  async orderIdOf(reference: string): Promise<string | undefined> {
    // Not a PayPal id at all: nothing to ask PayPal about.
    if (!/^[A-Za-z0-9-]{1,64}$/.test(reference)) return undefined;
    try {
      const order = await this.getOrder(reference);
      const unit = order.purchase_units?.[0];
      return unit?.custom_id;
    } catch (error) {
      if (error instanceof PayPalRequestError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Orders v2 has no call that cancels a checkout order: one nobody captures lapses at PayPal, and
   * ours is captured only while the order awaits payment (capturePayment). So only a completed
   * order is money taken.
   */
  async cancelPayment(reference: string): Promise<'cancelled' | 'paid'> {
    const order = await this.getOrder(reference);
    return order.status === 'COMPLETED' ? 'paid' : 'cancelled';
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

  /** The capture a refund gave back, from the refund's own `up` link. */
  async captureIdOfRefund(refundId: string): Promise<string | undefined> {
    const body = await this.api('refund lookup', 'GET', `/v2/payments/refunds/${pathId(refundId)}`);
    const refund = this.parse('refund lookup', refundLookupSchema, body);
    return captureIdFromLinks(refund.links);
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

  /** See receivePayPalWebhook: verified by PayPal with the raw bytes, then translated into a report. */
  receiveWebhook(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    return receivePayPalWebhook(this, this.settings.webhookId, delivery);
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

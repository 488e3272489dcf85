import { generateKeyPairSync, randomBytes, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { parseTree } from 'jsonc-parser';

/**
 * A local server speaking the PayPal REST endpoints order-ledger uses: OAuth2 client credentials,
 * Orders v2 create/get/capture, Payments v2 capture lookup and refund, and
 * verify-webhook-signature. PayPal-Request-Id replays the first answer and tokens expire.
 * Notifications are signed as PayPal signs them (SHA256withRSA over
 * `transmission id|time|webhook id|CRC32 of the body bytes`) with a key only this fake holds, so
 * only its verify endpoint can tell a genuine one from a forged one, and it checks the bytes of
 * `webhook_event` exactly as they appear in the verify request: a body that was parsed and
 * re-encoded fails, as it does at PayPal.
 */

interface Money {
  currency_code: string;
  value: string;
}

export interface FakeCapture {
  id: string;
  status: string;
  amount: Money;
  custom_id: string;
  final_capture: boolean;
  supplementary_data: { related_ids: { order_id: string } };
}

export interface FakeOrder {
  id: string;
  status: string;
  intent: string;
  purchase_units: Array<{ reference_id: string; custom_id: string; amount: Money; payments?: { captures: FakeCapture[] } }>;
  links: Array<{ href: string; rel: string; method: string }>;
}

export interface FakeRefund {
  id: string;
  status: string;
  amount: Money;
  custom_id?: string;
  links: Array<{ href: string; rel: string; method: string }>;
  seller_payable_breakdown: { total_refunded_amount: Money };
}

export interface RecordedRequest {
  method: string;
  path: string;
  requestId: string | undefined;
  authorization: string | undefined;
  body: string;
  /** The body exactly as received. */
  bytes: Buffer;
}

type Behaviour = { status: number; body?: unknown } | 'hang';

export interface SignedNotification {
  id: string;
  body: string;
  headers: Record<string, string>;
}

const paypalId = (): string => randomBytes(9).toString('hex').toUpperCase().slice(0, 17);

function toMinor(value: string): number {
  const [whole, fraction = ''] = value.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

function toValue(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

function unprocessable(issue: string, description: string): { status: number; body: unknown } {
  return { status: 422, body: { name: 'UNPROCESSABLE_ENTITY', message: 'The requested action could not be performed.', details: [{ issue, description }] } };
}

export class FakePayPal {
  readonly clientId = `client-${randomUUID()}`;
  readonly clientSecret = `secret-${randomBytes(16).toString('hex')}`;
  readonly webhookId = `WH-${paypalId()}`;
  readonly requests: RecordedRequest[] = [];
  readonly orders = new Map<string, FakeOrder>();
  readonly captures = new Map<string, FakeCapture>();
  readonly refunds = new Map<string, FakeRefund>();
  /** Lifetime of issued tokens, in seconds. */
  tokenLifetimeSeconds = 32400;
  captureStatus: 'COMPLETED' | 'DECLINED' | 'PENDING' = 'COMPLETED';
  refundStatus: 'COMPLETED' | 'PENDING' | 'FAILED' = 'COMPLETED';
  /** Hits on the certificate URL notifications name: order-ledger must never fetch it. */
  certificateFetches = 0;
  private readonly signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly tokens = new Map<string, number>();
  private readonly approved = new Set<string>();
  private readonly replays = new Map<string, { status: number; body?: unknown }>();
  private readonly failures: Array<{ method: string | undefined; path: RegExp; behaviour: Behaviour; remaining: number }> = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private server!: http.Server;
  url = '';

  static async start(): Promise<FakePayPal> {
    const fake = new FakePayPal();
    fake.server = http.createServer((req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  failNext(match: { method?: string; path: RegExp }, behaviour: Behaviour, times = 1): void {
    this.failures.push({ method: match.method, path: match.path, behaviour, remaining: times });
  }

  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  get tokenRequests(): number {
    return this.requestsTo('POST', /^\/v1\/oauth2\/token$/).length;
  }

  /** Every token issued so far stops working (as when PayPal expires them). */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** The buyer approves the payment on PayPal's page. */
  approve(paypalOrderId: string): void {
    const order = this.orders.get(paypalOrderId);
    if (!order) throw new Error(`fake PayPal has no order ${paypalOrderId}`);
    this.approved.add(paypalOrderId);
    order.status = 'APPROVED';
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const bytes = Buffer.concat(chunks);
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        requestId: req.headers['paypal-request-id'] as string | undefined,
        authorization: req.headers.authorization,
        body: bytes.toString('utf8'),
        bytes,
      };
      this.requests.push(recorded);
      const failure = this.failures.find((f) => f.remaining > 0 && (!f.method || f.method === recorded.method) && f.path.test(path));
      if (failure) {
        failure.remaining -= 1;
        if (failure.behaviour === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        this.send(res, failure.behaviour);
        return;
      }
      this.send(res, this.route(recorded));
    });
  }

  private send(res: http.ServerResponse, answer: { status: number; body?: unknown }): void {
    res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Paypal-Debug-Id': randomBytes(6).toString('hex') });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }

  private route(request: RecordedRequest): { status: number; body?: unknown } {
    if (request.path.startsWith('/certs/')) {
      this.certificateFetches += 1;
      return { status: 200, body: 'not a certificate' };
    }
    if (request.method === 'POST' && request.path === '/v1/oauth2/token') return this.issueToken(request);
    const token = /^Bearer (.+)$/.exec(request.authorization ?? '')?.[1];
    const expiresAt = token ? this.tokens.get(token) : undefined;
    if (expiresAt === undefined || expiresAt < Date.now()) {
      return { status: 401, body: { error: 'invalid_token', error_description: 'Token signature verification failed' } };
    }
    const key = request.requestId ? `${request.method} ${request.path} ${request.requestId}` : undefined;
    if (key) {
      const replay = this.replays.get(key);
      if (replay) return replay;
    }
    const answer = this.answer(request);
    if (key && answer.status < 500) this.replays.set(key, answer);
    return answer;
  }

  private issueToken(request: RecordedRequest): { status: number; body: unknown } {
    const expected = `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64')}`;
    if (request.authorization !== expected || new URLSearchParams(request.body).get('grant_type') !== 'client_credentials') {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Client Authentication failed' } };
    }
    const token = `A21AA${randomBytes(24).toString('hex')}`;
    this.tokens.set(token, Date.now() + this.tokenLifetimeSeconds * 1000);
    return {
      status: 200,
      body: {
        scope: 'https://uri.paypal.com/services/payments/payment',
        access_token: token,
        token_type: 'Bearer',
        app_id: 'APP-FAKE',
        expires_in: this.tokenLifetimeSeconds,
        nonce: randomUUID(),
      },
    };
  }

  private answer(request: RecordedRequest): { status: number; body?: unknown } {
    const { method, path } = request;
    let body: Record<string, unknown>;
    try {
      body = request.body ? (JSON.parse(request.body) as Record<string, unknown>) : {};
    } catch {
      return { status: 400, body: { name: 'INVALID_REQUEST', message: 'Request is not well-formed' } };
    }
    if (method === 'POST' && path === '/v2/checkout/orders') return this.createOrder(body);
    let match = /^\/v2\/checkout\/orders\/([A-Z0-9]+)$/.exec(path);
    if (method === 'GET' && match) {
      const order = this.orders.get(match[1]!);
      return order ? { status: 200, body: order } : { status: 404, body: { name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] } };
    }
    match = /^\/v2\/checkout\/orders\/([A-Z0-9]+)\/capture$/.exec(path);
    if (method === 'POST' && match) return this.capture(match[1]!);
    match = /^\/v2\/payments\/captures\/([A-Z0-9]+)$/.exec(path);
    if (method === 'GET' && match) {
      const capture = this.captures.get(match[1]!);
      return capture ? { status: 200, body: capture } : { status: 404, body: { name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] } };
    }
    match = /^\/v2\/payments\/refunds\/([A-Z0-9]+)$/.exec(path);
    if (method === 'GET' && match) {
      const refund = this.refunds.get(match[1]!);
      return refund ? { status: 200, body: refund } : { status: 404, body: { name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] } };
    }
    match = /^\/v2\/payments\/captures\/([A-Z0-9]+)\/refund$/.exec(path);
    if (method === 'POST' && match) return this.refund(match[1]!, body);
    if (method === 'POST' && path === '/v1/notifications/verify-webhook-signature') return this.verify(request.bytes, body);
    return { status: 404, body: { name: 'NOT_FOUND', message: `${method} ${path}` } };
  }

  private createOrder(body: Record<string, unknown>): { status: number; body: unknown } {
    const units = body.purchase_units as FakeOrder['purchase_units'] | undefined;
    const unit = units?.[0];
    if (body.intent !== 'CAPTURE' || !unit?.amount?.value || !unit.amount.currency_code) {
      return { status: 400, body: { name: 'INVALID_REQUEST', details: [{ issue: 'MISSING_REQUIRED_PARAMETER' }] } };
    }
    const orderId = paypalId();
    const order: FakeOrder = {
      id: orderId,
      status: 'PAYER_ACTION_REQUIRED',
      intent: 'CAPTURE',
      purchase_units: [{ reference_id: unit.reference_id, custom_id: unit.custom_id, amount: unit.amount }],
      links: [
        { href: `${this.url}/v2/checkout/orders/${orderId}`, rel: 'self', method: 'GET' },
        { href: `https://www.sandbox.paypal.com/checkoutnow?token=${orderId}`, rel: 'payer-action', method: 'GET' },
      ],
    };
    this.orders.set(orderId, order);
    return { status: 200, body: order };
  }

  private capture(orderId: string): { status: number; body: unknown } {
    const order = this.orders.get(orderId);
    if (!order) return { status: 404, body: { name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] } };
    if (order.status === 'COMPLETED') return unprocessable('ORDER_ALREADY_CAPTURED', 'Order already captured.');
    if (!this.approved.has(orderId)) return unprocessable('ORDER_NOT_APPROVED', 'Payer has not yet approved the Order for payment.');
    const unit = order.purchase_units[0]!;
    const capture: FakeCapture = {
      id: paypalId(),
      status: this.captureStatus,
      amount: unit.amount,
      custom_id: unit.custom_id,
      final_capture: true,
      supplementary_data: { related_ids: { order_id: orderId } },
    };
    this.captures.set(capture.id, capture);
    unit.payments = { captures: [capture] };
    order.status = 'COMPLETED';
    return { status: 201, body: order };
  }

  private refund(captureId: string, body: Record<string, unknown>): { status: number; body: unknown } {
    const capture = this.captures.get(captureId);
    if (!capture) return { status: 404, body: { name: 'RESOURCE_NOT_FOUND', details: [{ issue: 'INVALID_RESOURCE_ID' }] } };
    if (capture.status !== 'COMPLETED' && capture.status !== 'PARTIALLY_REFUNDED') return unprocessable('CAPTURE_FULLY_REFUNDED', 'The capture has already been fully refunded');
    const refundedSoFar = [...this.refunds.values()]
      .filter((r) => r.links.some((l) => l.rel === 'up' && l.href.endsWith(`/captures/${captureId}`)) && r.status !== 'FAILED')
      .reduce((sum, r) => sum + toMinor(r.amount.value), 0);
    const requested = (body.amount as Money | undefined) ?? { currency_code: capture.amount.currency_code, value: toValue(toMinor(capture.amount.value) - refundedSoFar) };
    const total = refundedSoFar + toMinor(requested.value);
    if (total > toMinor(capture.amount.value))
      return unprocessable('REFUND_AMOUNT_EXCEEDED', 'The refund amount must be less than or equal to the capture amount that has not yet been refunded.');
    const refund: FakeRefund = {
      id: paypalId(),
      status: this.refundStatus,
      amount: requested,
      ...(typeof body.custom_id === 'string' ? { custom_id: body.custom_id } : {}),
      links: [
        { href: `${this.url}/v2/payments/refunds/REFUND`, rel: 'self', method: 'GET' },
        { href: `${this.url}/v2/payments/captures/${captureId}`, rel: 'up', method: 'GET' },
      ],
      seller_payable_breakdown: { total_refunded_amount: { currency_code: requested.currency_code, value: toValue(this.refundStatus === 'FAILED' ? refundedSoFar : total) } },
    };
    refund.links[0]!.href = `${this.url}/v2/payments/refunds/${refund.id}`;
    this.refunds.set(refund.id, refund);
    if (this.refundStatus !== 'FAILED') capture.status = total >= toMinor(capture.amount.value) ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    return { status: 201, body: refund };
  }

  private get certificateUrl(): string {
    return `${this.url}/certs/CERT-360caa42-fca2a594-a5cafa77`;
  }

  /** What PayPal signs: the transmission headers, the webhook id and the CRC32 of the body's bytes. */
  private static signedText(transmissionId: string, time: string, webhookId: string, body: Buffer): Buffer {
    return Buffer.from(`${transmissionId}|${time}|${webhookId}|${crc32(body)}`, 'utf8');
  }

  private verify(raw: Buffer, envelope: Record<string, unknown>): { status: number; body: unknown } {
    const { transmission_id, transmission_time, transmission_sig, webhook_id, webhook_event, cert_url, auth_algo } = envelope;
    const eventBytes = rawMember(raw, 'webhook_event');
    if (
      typeof transmission_id !== 'string' ||
      typeof transmission_time !== 'string' ||
      typeof transmission_sig !== 'string' ||
      typeof webhook_id !== 'string' ||
      typeof cert_url !== 'string' ||
      typeof auth_algo !== 'string' ||
      typeof webhook_event !== 'object' ||
      webhook_event === null ||
      !eventBytes
    ) {
      return { status: 400, body: { name: 'VALIDATION_ERROR', details: [{ issue: 'MISSING_REQUIRED_PARAMETER' }] } };
    }
    const ok =
      webhook_id === this.webhookId &&
      auth_algo === 'SHA256withRSA' &&
      cert_url === this.certificateUrl &&
      verify('sha256', FakePayPal.signedText(transmission_id, transmission_time, webhook_id, eventBytes), this.signingKey.publicKey, Buffer.from(transmission_sig, 'base64'));
    return { status: 200, body: { verification_status: ok ? 'SUCCESS' : 'FAILURE' } };
  }

  /**
   * A notification as PayPal would deliver it; `forge` signs it with another key. `encode` writes
   * the body (pretty-printed by default: verification must use the bytes received, not a re-encoding).
   */
  notification(
    eventType: string,
    resource: unknown,
    options: { eventId?: string; forge?: boolean; webhookId?: string; encode?: (event: Record<string, unknown>) => string } = {},
  ): SignedNotification {
    const eventId = options.eventId ?? `WH-${paypalId()}`;
    const event = {
      id: eventId,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: eventType.includes('REFUNDED') ? 'refund' : 'capture',
      resource_version: '2.0',
      event_type: eventType,
      summary: eventType,
      resource,
    };
    const body = options.encode ? options.encode(event) : JSON.stringify(event, null, 2);
    const transmissionId = randomUUID();
    const time = new Date().toISOString();
    const key: KeyObject = options.forge ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : this.signingKey.privateKey;
    const signature = sign('sha256', FakePayPal.signedText(transmissionId, time, options.webhookId ?? this.webhookId, Buffer.from(body, 'utf8')), key).toString('base64');
    return {
      id: eventId,
      body,
      headers: {
        'Content-Type': 'application/json',
        'PAYPAL-AUTH-ALGO': 'SHA256withRSA',
        'PAYPAL-CERT-URL': this.certificateUrl,
        'PAYPAL-TRANSMISSION-ID': transmissionId,
        'PAYPAL-TRANSMISSION-SIG': signature,
        'PAYPAL-TRANSMISSION-TIME': time,
      },
    };
  }

  captureNotification(eventType: 'PAYMENT.CAPTURE.COMPLETED' | 'PAYMENT.CAPTURE.DENIED', captureId: string, overrides: Partial<FakeCapture> = {}): SignedNotification {
    const capture = this.captures.get(captureId);
    if (!capture) throw new Error(`fake PayPal has no capture ${captureId}`);
    return this.notification(eventType, { ...capture, ...overrides });
  }

  /** `withoutLinks`: as PayPal sends some refunds made in its dashboard, with no link to the capture. */
  refundNotification(refundId: string, options: { withoutLinks?: boolean } = {}): SignedNotification {
    const refund = this.refunds.get(refundId);
    if (!refund) throw new Error(`fake PayPal has no refund ${refundId}`);
    if (options.withoutLinks) {
      const { links: _links, ...rest } = refund;
      return this.notification('PAYMENT.CAPTURE.REFUNDED', rest);
    }
    return this.notification('PAYMENT.CAPTURE.REFUNDED', refund);
  }

  /** A refund made by the seller in PayPal's dashboard (not through the API order-ledger calls). */
  dashboardRefund(captureId: string, amount: Money): FakeRefund {
    const answer = this.refund(captureId, { amount });
    if (answer.status !== 201) throw new Error(`fake PayPal refused the dashboard refund: ${JSON.stringify(answer.body)}`);
    return answer.body as FakeRefund;
  }

  /**
   * The buyer approved and the capture happened out of band (the webhook arrives, not the owner's
   * capture call). Returns the capture.
   */
  captureOutOfBand(paypalOrderId: string, status: 'COMPLETED' | 'DECLINED' = 'COMPLETED', amount?: Money): FakeCapture {
    this.approve(paypalOrderId);
    const before = this.captureStatus;
    this.captureStatus = status;
    this.capture(paypalOrderId);
    this.captureStatus = before;
    const capture = this.orders.get(paypalOrderId)!.purchase_units[0]!.payments!.captures[0]!;
    if (amount) capture.amount = amount;
    return capture;
  }
}

/**
 * The bytes of one top-level member's value in a JSON document, exactly as they were sent (the
 * last one when the name repeats, as JSON.parse keeps). Offsets from the parser count UTF-16 code
 * units; they are turned into byte offsets of the UTF-8 body.
 */
function rawMember(raw: Buffer, name: string): Buffer | undefined {
  const text = raw.toString('utf8');
  const root = parseTree(text);
  if (root?.type !== 'object') return undefined;
  const member = root.children?.filter((p) => p.children?.[0]?.value === name).pop()?.children?.[1];
  if (!member) return undefined;
  const start = Buffer.byteLength(text.slice(0, member.offset), 'utf8');
  const length = Buffer.byteLength(text.slice(member.offset, member.offset + member.length), 'utf8');
  return raw.subarray(start, start + length);
}

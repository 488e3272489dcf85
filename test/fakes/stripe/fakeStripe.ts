import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A local server answering like Stripe's API for the endpoints order-ledger uses
 * (PaymentIntents create/retrieve, Refunds create), with Stripe's idempotency-key replay, its
 * error shape, and helpers that build webhook events signed with the SDK's own test-header helper.
 */

export interface FakeIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  client_secret: string;
  metadata: Record<string, string>;
  cancellation_reason: string | null;
  last_payment_error: { code: string; message: string } | null;
  latest_charge: string | null;
  created: number;
  livemode: false;
}

export interface FakeRefund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  payment_intent: string;
  charge: string | null;
  status: string;
  metadata: Record<string, string>;
  failure_reason?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  form: Record<string, string>;
}

/** 'hang': never answered; 'answer-lost': carried out, but the answer never arrives (a crash or timeout after Stripe acted). */
type Behaviour = { status: number; body?: unknown } | 'hang' | 'answer-lost';

interface Failure {
  method: string | undefined;
  path: RegExp;
  behaviour: Behaviour;
  remaining: number;
}

export interface SignedEvent {
  id: string;
  payload: string;
  header: string;
}

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

function metadataOf(form: Record<string, string>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(form)) {
    const match = /^metadata\[(.+)\]$/.exec(key);
    if (match) metadata[match[1]!] = value;
  }
  return metadata;
}

function stripeError(status: number, type: string, message: string, code?: string): { status: number; body: unknown } {
  return { status, body: { error: { type, message, ...(code ? { code } : {}) } } };
}

/** The statuses Stripe lets an intent be cancelled from. */
const cancellableStatuses: ReadonlySet<string> = new Set(['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing']);

export class FakeStripe {
  readonly secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  readonly webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  readonly requests: RecordedRequest[] = [];
  readonly intents = new Map<string, FakeIntent>();
  readonly refunds = new Map<string, FakeRefund>();
  /** Intents cancelled through the API (POST /v1/payment_intents/:id/cancel), in order. */
  readonly cancelled: string[] = [];
  /** Status new refunds get. */
  refundStatus: 'succeeded' | 'pending' | 'failed' = 'succeeded';
  private readonly refunded = new Map<string, number>();
  private readonly charges = new Map<string, string>();
  private readonly idempotent = new Map<string, { status: number; body: unknown }>();
  private readonly failures: Failure[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private server!: http.Server;
  port = 0;

  static async start(): Promise<FakeStripe> {
    const fake = new FakeStripe();
    fake.server = http.createServer((req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `times` requests matching get this answer instead ('hang': never answered). */
  failNext(match: { method?: string; path: RegExp }, behaviour: Behaviour, times = 1): void {
    this.failures.push({ method: match.method, path: match.path, behaviour, remaining: times });
  }

  requestsTo(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        authorization: req.headers.authorization,
        form,
      };
      this.requests.push(recorded);
      const failure = this.failures.find((f) => f.remaining > 0 && (!f.method || f.method === recorded.method) && f.path.test(recorded.path));
      if (failure) {
        failure.remaining -= 1;
        if (failure.behaviour === 'answer-lost') this.route(recorded);
        if (failure.behaviour === 'hang' || failure.behaviour === 'answer-lost') {
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
    res.writeHead(answer.status, { 'Content-Type': 'application/json', 'Request-Id': id('req') });
    res.end(JSON.stringify(answer.body ?? {}));
  }

  private route(request: RecordedRequest): { status: number; body: unknown } {
    if (request.authorization !== `Bearer ${this.secretKey}`) {
      return stripeError(401, 'invalid_request_error', 'Invalid API Key provided: sk_test_****');
    }
    const key = request.idempotencyKey ? `${request.method} ${request.path} ${request.idempotencyKey}` : undefined;
    if (key && request.method === 'POST') {
      const replay = this.idempotent.get(key);
      if (replay) return replay;
    }
    const answer = this.answer(request);
    if (key && request.method === 'POST') this.idempotent.set(key, answer);
    return answer;
  }

  private answer(request: RecordedRequest): { status: number; body: unknown } {
    const { method, path, form } = request;
    if (method === 'POST' && path === '/v1/payment_intents') {
      const amount = Number(form.amount);
      if (!Number.isSafeInteger(amount) || amount < 1 || !form.currency) {
        return stripeError(400, 'invalid_request_error', 'Missing or invalid amount/currency', 'parameter_missing');
      }
      const intentId = id('pi');
      const intent: FakeIntent = {
        id: intentId,
        object: 'payment_intent',
        amount,
        amount_received: 0,
        currency: form.currency,
        status: 'requires_payment_method',
        client_secret: `${intentId}_secret_${randomBytes(8).toString('hex')}`,
        metadata: metadataOf(form),
        cancellation_reason: null,
        last_payment_error: null,
        latest_charge: null,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
      };
      this.intents.set(intentId, intent);
      return { status: 200, body: intent };
    }
    const intentMatch = /^\/v1\/payment_intents\/([^/]+)$/.exec(path);
    if (method === 'GET' && intentMatch) {
      const intent = this.intents.get(intentMatch[1]!);
      return intent ? { status: 200, body: intent } : stripeError(404, 'invalid_request_error', `No such payment_intent: '${intentMatch[1]}'`, 'resource_missing');
    }
    const cancelMatch = /^\/v1\/payment_intents\/([^/]+)\/cancel$/.exec(path);
    if (method === 'POST' && cancelMatch) {
      const intent = this.intents.get(cancelMatch[1]!);
      if (!intent) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${cancelMatch[1]}'`, 'resource_missing');
      // As Stripe: only an intent that has not succeeded or been cancelled may be cancelled.
      if (!cancellableStatuses.has(intent.status)) {
        return stripeError(
          400,
          'invalid_request_error',
          `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${[...cancellableStatuses].join(', ')}.`,
          'payment_intent_unexpected_state',
        );
      }
      const reason = form.cancellation_reason;
      if (reason !== undefined && !['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'].includes(reason)) {
        return stripeError(
          400,
          'invalid_request_error',
          `Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned`,
          'parameter_invalid_empty',
        );
      }
      intent.status = 'canceled';
      intent.cancellation_reason = reason ?? null;
      this.cancelled.push(intent.id);
      return { status: 200, body: intent };
    }
    if (method === 'POST' && path === '/v1/refunds') {
      const intent = form.payment_intent ? this.intents.get(form.payment_intent) : undefined;
      if (!intent) return stripeError(404, 'invalid_request_error', `No such payment_intent: '${form.payment_intent}'`, 'resource_missing');
      if (intent.status !== 'succeeded') {
        return stripeError(400, 'invalid_request_error', `PaymentIntent ${intent.id} does not have a successful charge to refund.`, 'charge_not_refundable');
      }
      const already = this.refunded.get(intent.id) ?? 0;
      const amount = form.amount ? Number(form.amount) : intent.amount_received - already;
      if (already >= intent.amount_received) {
        return stripeError(400, 'invalid_request_error', `Charge ${intent.latest_charge} has already been refunded.`, 'charge_already_refunded');
      }
      if (amount > intent.amount_received - already) {
        return stripeError(400, 'invalid_request_error', `Refund amount ($${amount / 100}) is greater than unrefunded amount on charge`, 'amount_too_large');
      }
      const refund: FakeRefund = {
        id: id('re'),
        object: 'refund',
        amount,
        currency: intent.currency,
        payment_intent: intent.id,
        charge: intent.latest_charge,
        status: this.refundStatus,
        metadata: metadataOf(form),
        ...(this.refundStatus === 'failed' ? { failure_reason: 'expired_or_canceled_card' } : {}),
      };
      if (refund.status !== 'failed') this.refunded.set(intent.id, already + amount);
      this.refunds.set(refund.id, refund);
      return { status: 200, body: refund };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  // --- what the customer and Stripe do, and the webhook events they cause ---

  /** The customer pays: the intent succeeds with `amount` received (the intent's amount by default). */
  pay(intentId: string, amount?: number): FakeIntent {
    const intent = this.mustIntent(intentId);
    intent.status = 'succeeded';
    intent.amount_received = amount ?? intent.amount;
    intent.latest_charge ??= id('ch');
    this.charges.set(intent.latest_charge, intent.id);
    return intent;
  }

  /** The seller refunds part of a charge in Stripe's dashboard (no API call from order-ledger). */
  dashboardRefund(intentId: string, amount: number): FakeRefund {
    const intent = this.mustIntent(intentId);
    const refund: FakeRefund = {
      id: id('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intent.id,
      charge: intent.latest_charge,
      status: 'succeeded',
      metadata: {},
    };
    this.refunded.set(intent.id, (this.refunded.get(intent.id) ?? 0) + amount);
    this.refunds.set(refund.id, refund);
    return refund;
  }

  decline(intentId: string): FakeIntent {
    const intent = this.mustIntent(intentId);
    intent.status = 'requires_payment_method';
    intent.last_payment_error = { code: 'card_declined', message: 'Your card was declined.' };
    return intent;
  }

  cancel(intentId: string): FakeIntent {
    const intent = this.mustIntent(intentId);
    intent.status = 'canceled';
    intent.cancellation_reason = 'abandoned';
    return intent;
  }

  private mustIntent(intentId: string): FakeIntent {
    const intent = this.intents.get(intentId);
    if (!intent) throw new Error(`fake Stripe has no intent ${intentId}`);
    return intent;
  }

  /** A webhook event, as Stripe would deliver it, signed with the webhook secret. */
  signedEvent(type: string, object: unknown, options: { eventId?: string; secret?: string; timestamp?: number } = {}): SignedEvent {
    const eventId = options.eventId ?? id('evt');
    const payload = JSON.stringify(
      {
        id: eventId,
        object: 'event',
        api_version: Stripe.API_VERSION,
        created: Math.floor(Date.now() / 1000),
        type,
        data: { object },
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
      },
      null,
      2,
    );
    const header = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? this.webhookSecret,
      ...(options.timestamp !== undefined ? { timestamp: options.timestamp } : {}),
    });
    return { id: eventId, payload, header };
  }

  intentEvent(type: 'payment_intent.succeeded' | 'payment_intent.payment_failed' | 'payment_intent.canceled', intentId: string, overrides: Partial<FakeIntent> = {}): SignedEvent {
    return this.signedEvent(type, { ...this.mustIntent(intentId), ...overrides });
  }

  /** charge.refunded for an intent's charge, with everything refunded so far (charges carry no metadata). */
  chargeRefundedEvent(intentId: string, overrides: { amountRefunded?: number } = {}): SignedEvent {
    const intent = this.mustIntent(intentId);
    const refunds = [...this.refunds.values()].filter((r) => r.payment_intent === intentId).reverse();
    const amountRefunded = overrides.amountRefunded ?? this.refunded.get(intentId) ?? 0;
    return this.signedEvent('charge.refunded', {
      id: intent.latest_charge ?? id('ch'),
      object: 'charge',
      amount: intent.amount_received,
      amount_captured: intent.amount_received,
      amount_refunded: amountRefunded,
      currency: intent.currency,
      payment_intent: intent.id,
      refunded: amountRefunded >= intent.amount_received,
      metadata: {},
      refunds: { object: 'list', data: refunds, has_more: false },
    });
  }
}

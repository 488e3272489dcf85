import { z } from 'zod';
import { handleOrderCommand, loadOrder, unchangedResult, type HandleResult } from '../../commands/orderCommandHandler';
import { evolve, initialOrderState, strayPaymentOf, type OrderCommand, type OrderState } from '../../commands/order/orderDecider';
import { InvalidTransitionError, OrderNotFoundError, PaymentMethodMismatchError } from '../../commands/order/orderErrors';
import { AppError, ConflictError, UnavailableError } from '../../errors';
import { decodeOrderEvent, orderStreamId, type EncodeContext } from '../../events/codec';
import type { OrderEventOf, PaymentMethod } from '../../events/orderEvents';
import type { Config } from '../config/config';
import type { Deps } from '../deps';
import type { EventStore } from '../eventstore/eventStore';
import type { Logger } from '../logger';
import { fromPayPalValue, fromStripeAmount } from '../../events/money';
import {
  PaymentProviderError,
  PaymentProviderNotConfiguredError,
  type PaymentProvider,
  type PaymentSession,
  type ProviderMethod,
} from './paymentProvider';
import { PayPalProvider, PayPalRequestError } from './paypalProvider';
import { schemaProblem, StripeProvider, type StripeWebhookEvent } from './stripeProvider';

export interface PaymentsOptions {
  config: Config;
  store: EventStore;
  logger: Logger;
  clock: () => Date;
}

export interface ReportOutcome {
  /** recorded: events appended; unchanged: a duplicate or no-op; ignored: refused by the order or not ours. */
  outcome: 'recorded' | 'unchanged' | 'ignored';
  orderId?: string;
  events?: string[];
  reason?: string;
  position?: bigint;
}

export interface RefundOutcome {
  status: 'succeeded' | 'pending' | 'failed' | 'awaiting_confirmation' | 'already_refunded';
  refundId?: string;
  failureReason?: string;
}

interface RefundRequestAt {
  id: string;
  data: OrderEventOf<'RefundRequested'>['data'];
  /** The refund of the order's own payment (not of a stray, duplicate or mismatched payment). */
  own: boolean;
  /** The payment the order counted when the refund was requested. */
  paidReference: string | undefined;
}

/** Payments live in the api and worker roles; reaching here without them is a wiring bug. */
export function paymentsOf(deps: Deps): Payments {
  if (!deps.payments) throw new UnavailableError('PAYMENTS_UNAVAILABLE', 'Payments are not available in this process');
  return deps.payments;
}

const awaitingPayment: ReadonlySet<string> = new Set(['PENDING', 'PAYMENT_FAILED']);
const orderIdSchema = z.uuid();

function orderIdIn(metadata: Record<string, string> | null | undefined): string | undefined {
  const parsed = orderIdSchema.safeParse(metadata?.orderId);
  return parsed.success ? parsed.data : undefined;
}

/** A provider lookup failed while handling its webhook: answer non-2xx so the provider delivers again. */
export function unavailableForRedelivery(error: PaymentProviderError): UnavailableError {
  const unavailable = new UnavailableError('PAYMENT_PROVIDER_UNAVAILABLE', `${error.message}; deliver the event again later`);
  unavailable.logDetail = error.logDetail;
  return unavailable;
}

/** The provider's report changes nothing in the order: a refusal to log, not an error to retry. */
function isRefusal(error: unknown): error is AppError {
  if (!(error instanceof AppError)) return false;
  return error.kind === 'not_found' || error.kind === 'validation' || (error.kind === 'conflict' && error.code !== 'CONCURRENCY_CONFLICT');
}

const paypalId = z.string().min(1).max(255);
const paypalMoney = z.object({ currency_code: z.string().regex(/^[A-Za-z]{3}$/, 'not a three-letter currency code'), value: z.string().max(32) });
const paypalCaptureResource = z.object({
  id: paypalId,
  status: z.string().max(64).optional(),
  amount: paypalMoney.optional(),
  custom_id: z.string().max(255).optional(),
  supplementary_data: z.object({ related_ids: z.object({ order_id: paypalId.optional() }).optional() }).optional(),
});
const paypalRefundResource = z.object({
  id: paypalId,
  status: z.string().max(64).optional(),
  amount: paypalMoney.optional(),
  custom_id: z.string().max(255).optional(),
  links: z.array(z.object({ href: z.string().max(2048), rel: z.string().max(64) })).max(50).optional(),
  seller_payable_breakdown: z.object({ total_refunded_amount: paypalMoney.optional() }).optional(),
});
export const paypalWebhookEventSchema = z.object({ id: paypalId, event_type: z.string().min(1).max(255), resource: z.unknown() });
export type PayPalWebhookEvent = z.infer<typeof paypalWebhookEventSchema>;

/**
 * Payments across providers: starting and resuming attempts, recording what providers report,
 * capturing PayPal orders and giving money back. Provider answers become order commands; the
 * decider decides.
 */
export class Payments {
  readonly stripe: StripeProvider | undefined;
  readonly paypal: PayPalProvider | undefined;
  private readonly store: EventStore;
  private readonly logger: Logger;
  private readonly clock: () => Date;

  constructor(private readonly options: PaymentsOptions) {
    const { config } = options;
    this.store = options.store;
    this.logger = options.logger;
    this.clock = options.clock;
    this.stripe = config.STRIPE_SECRET_KEY
      ? new StripeProvider({
          secretKey: config.STRIPE_SECRET_KEY,
          ...(config.STRIPE_API_HOST ? { host: config.STRIPE_API_HOST } : {}),
          ...(config.STRIPE_API_PORT ? { port: config.STRIPE_API_PORT } : {}),
          ...(config.STRIPE_API_PROTOCOL ? { protocol: config.STRIPE_API_PROTOCOL } : {}),
          timeoutMs: config.HTTP_CLIENT_TIMEOUT_MS,
          maxNetworkRetries: 1,
        })
      : undefined;
    this.paypal =
      config.PAYPAL_CLIENT_ID && config.PAYPAL_CLIENT_SECRET
        ? new PayPalProvider({
            clientId: config.PAYPAL_CLIENT_ID,
            clientSecret: config.PAYPAL_CLIENT_SECRET,
            apiBase: config.PAYPAL_API_BASE,
            webhookId: config.PAYPAL_WEBHOOK_ID,
            returnUrl: config.PAYMENT_RETURN_URL,
            cancelUrl: config.PAYMENT_CANCEL_URL,
            timeoutMs: config.HTTP_CLIENT_TIMEOUT_MS,
            maxRetries: 1,
          })
        : undefined;
  }

  /** Variables a method needs before an order may choose it. Stripe reports outcomes only by webhook. */
  missingConfiguration(method: PaymentMethod): string[] {
    const { config } = this.options;
    const required: Record<PaymentMethod, [string, string | undefined][]> = {
      STRIPE: [
        ['STRIPE_SECRET_KEY', config.STRIPE_SECRET_KEY],
        ['STRIPE_WEBHOOK_SECRET', config.STRIPE_WEBHOOK_SECRET],
      ],
      PAYPAL: [
        ['PAYPAL_CLIENT_ID', config.PAYPAL_CLIENT_ID],
        ['PAYPAL_CLIENT_SECRET', config.PAYPAL_CLIENT_SECRET],
      ],
      MANUAL: [],
    };
    return required[method].filter(([, value]) => !value).map(([name]) => name);
  }

  /** 503 naming the missing variables; MANUAL always passes. */
  assertConfigured(method: PaymentMethod): void {
    if (method === 'MANUAL') return;
    const missing = this.missingConfiguration(method);
    if (missing.length > 0) throw new PaymentProviderNotConfiguredError(method, missing);
  }

  provider(method: ProviderMethod): PaymentProvider {
    const provider = method === 'STRIPE' ? this.stripe : this.paypal;
    if (!provider) throw new PaymentProviderNotConfiguredError(method, this.missingConfiguration(method));
    return provider;
  }

  requirePayPal(): PayPalProvider {
    if (!this.paypal) throw new PaymentProviderNotConfiguredError('PAYPAL', this.missingConfiguration('PAYPAL'));
    return this.paypal;
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** The order as it stands, shaped like a command result that appended nothing. */
  async current(orderId: string): Promise<HandleResult> {
    const snapshot = await loadOrder(this.store, orderId);
    if (snapshot.state.status === 'NONE') throw new OrderNotFoundError(orderId);
    return unchangedResult(orderId, snapshot);
  }

  /**
   * Makes sure an order awaiting payment has a live provider attempt and returns what the client
   * needs to pay it. A pending attempt is resumed; otherwise a new one is created with an
   * idempotency key derived from the order id and stream revision, so a retried call after a
   * timeout gets the same attempt. When the provider fails, the failure is recorded (the order is
   * PAYMENT_FAILED, retryable) and the error says what failed and how to retry.
   */
  async startPayment(orderId: string, context: EncodeContext): Promise<{ result: HandleResult; session?: PaymentSession }> {
    const snapshot = await loadOrder(this.store, orderId);
    const { state } = snapshot;
    if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
    const unchanged = unchangedResult(orderId, snapshot);
    if (state.paymentMethod === 'MANUAL' || !awaitingPayment.has(state.status)) return { result: unchanged };
    const method = state.paymentMethod;
    const provider = this.provider(method);
    const retryHint = { orderId, retry: `POST /orders/${orderId}/pay` };

    if (state.status === 'PENDING' && state.paymentReference) {
      let resumed: PaymentSession | undefined;
      try {
        resumed = await provider.resumePayment(state.paymentReference);
      } catch (error) {
        if (error instanceof PaymentProviderError) {
          throw error.withContext(`Order ${orderId} is still PENDING with its payment attempt; retry with POST /orders/${orderId}/pay`, {
            ...retryHint,
            orderStatus: state.status,
          });
        }
        throw error;
      }
      if (resumed) return { result: unchanged, session: resumed };
    }

    const idempotencyKey = `order-${orderId}-payment-${snapshot.revision}`;
    let session: PaymentSession;
    try {
      session = await provider.createPayment({ orderId, amount: state.totalAmount, currency: state.currency, idempotencyKey });
    } catch (error) {
      if (!(error instanceof PaymentProviderError)) throw error;
      const status = await this.recordStartFailure(orderId, method, error, idempotencyKey, context);
      throw error.withContext(`Order ${orderId} was kept and is ${status}; retry the payment with POST /orders/${orderId}/pay`, {
        ...retryHint,
        orderStatus: status,
      });
    }
    const result = await handleOrderCommand(
      this.store,
      orderId,
      { type: 'InitiatePayment', data: { provider: method, providerReference: session.reference, now: this.now() } },
      { context },
    );
    return { result, session };
  }

  private async recordStartFailure(
    orderId: string,
    method: ProviderMethod,
    error: PaymentProviderError,
    idempotencyKey: string,
    context: EncodeContext,
  ): Promise<string> {
    this.logger.warn({ orderId, provider: method, err: { code: error.code, message: error.message, detail: error.logDetail } }, 'payment could not be started');
    try {
      const result = await handleOrderCommand(
        this.store,
        orderId,
        { type: 'RecordPaymentFailure', data: { provider: method, reason: error.message, now: this.now() } },
        { idempotencySource: `payment-start-failed:${idempotencyKey}`, context },
      );
      return result.state.status;
    } catch (recordError) {
      // The order stays PENDING without an attempt: still retryable.
      this.logger.error({ orderId, err: recordError }, 'could not record the failed payment start');
      return 'PENDING';
    }
  }

  /** Appends a provider's report idempotently; refusals by the order are logged and reported as ignored. */
  async report(orderId: string, command: OrderCommand, source: string, context: EncodeContext): Promise<ReportOutcome> {
    try {
      const result = await handleOrderCommand(this.store, orderId, command, { idempotencySource: source, context });
      if (result.unchanged) return { outcome: 'unchanged', orderId, ...(result.position !== undefined ? { position: result.position } : {}) };
      for (const event of result.events) {
        if (event.type === 'PaymentFailed' && event.data.reason.startsWith('amount mismatch')) {
          this.logger.warn({ orderId, source, reason: event.data.reason }, 'payment amount does not match the order; recorded as failed');
        }
        if (event.type === 'RefundRequested') {
          this.logger.info({ orderId, source, amount: event.data.amount, currency: event.data.currency, reason: event.data.reason }, 'refund requested');
        }
      }
      return { outcome: 'recorded', orderId, events: result.events.map((e) => e.type), ...(result.position !== undefined ? { position: result.position } : {}) };
    } catch (error) {
      if (!isRefusal(error)) throw error;
      this.logger.warn({ orderId, source, err: { code: error.code, message: error.message } }, 'provider report refused by the order');
      return { outcome: 'ignored', orderId, reason: error.message };
    }
  }

  async handleStripeEvent(event: StripeWebhookEvent): Promise<ReportOutcome> {
    if (event.kind === 'malformed') return this.ignoreMalformed('stripe', event.id, event.type, event.problem);
    const source = `stripe:${event.id}`;
    const context: EncodeContext = { actor: { type: 'provider', id: 'stripe' }, causationId: event.id };
    const now = this.now();
    switch (event.kind) {
      case 'payment_intent': {
        const { intent } = event;
        const orderId = orderIdIn(intent.metadata);
        if (!orderId) return { outcome: 'ignored', reason: 'the PaymentIntent names no order' };
        const currency = intent.currency.toUpperCase();
        if (event.type === 'payment_intent.succeeded') {
          const amount = fromStripeAmount(intent.amount_received, currency);
          if (amount === undefined) return { ...this.ignoreMalformed('stripe', event.id, event.type, 'the amount is not exact in the currency'), orderId };
          const command: OrderCommand = {
            type: 'RecordPaymentSuccess',
            data: { provider: 'STRIPE', providerReference: intent.id, amount, currency, now },
          };
          return this.report(orderId, command, source, context);
        }
        const reason =
          event.type === 'payment_intent.canceled'
            ? `PaymentIntent canceled${intent.cancellation_reason ? `: ${intent.cancellation_reason}` : ''}`
            : intent.last_payment_error?.message || intent.last_payment_error?.code || 'payment failed';
        return this.report(orderId, { type: 'RecordPaymentFailure', data: { provider: 'STRIPE', providerReference: intent.id, reason, now } }, source, context);
      }
      case 'charge.refunded': {
        const { charge } = event;
        const intentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
        if (!intentId) return { outcome: 'ignored', reason: 'the charge has no PaymentIntent' };
        const orderId = orderIdIn(charge.metadata) ?? orderIdIn({ orderId: (await this.stripeLookup(intentId)) ?? '' });
        if (!orderId) return { outcome: 'ignored', reason: 'the PaymentIntent names no order' };
        const refundId = charge.refunds?.data?.[0]?.id;
        const refunded = fromStripeAmount(charge.amount_refunded, charge.currency);
        if (refunded === undefined) return { ...this.ignoreMalformed('stripe', event.id, 'charge.refunded', 'the amount is not exact in the currency'), orderId };
        const command: OrderCommand = {
          type: 'RecordRefund',
          data: {
            provider: 'STRIPE',
            ...(refundId ? { providerReference: refundId } : {}),
            paymentReference: intentId,
            amount: refunded,
            currency: charge.currency.toUpperCase(),
            now,
          },
        };
        return this.report(orderId, command, source, context);
      }
      case 'other':
        return { outcome: 'ignored', reason: `event type ${event.type} is not handled` };
      default: {
        const exhaustive: never = event;
        return exhaustive;
      }
    }
  }

  /**
   * A verified event we can never use: answered 200 so the provider stops redelivering what no
   * retry will fix, and logged loudly enough for someone to look at the provider's dashboard.
   */
  private ignoreMalformed(provider: 'stripe' | 'paypal', eventId: string | undefined, type: string | undefined, problem: string): ReportOutcome {
    this.logger.error({ provider, eventId, eventType: type, problem }, 'verified webhook event is malformed; ignored');
    return { outcome: 'ignored', reason: problem };
  }

  private async stripeLookup(intentId: string): Promise<string | undefined> {
    if (!this.stripe) throw new PaymentProviderNotConfiguredError('STRIPE', ['STRIPE_SECRET_KEY']);
    try {
      return await this.stripe.orderIdOfPaymentIntent(intentId);
    } catch (error) {
      // Answer non-2xx so Stripe delivers the event again later.
      if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
      throw error;
    }
  }

  async handlePayPalEvent(event: PayPalWebhookEvent): Promise<ReportOutcome> {
    const source = `paypal:${event.id}`;
    const context: EncodeContext = { actor: { type: 'provider', id: 'paypal' }, causationId: event.id };
    const now = this.now();
    switch (event.event_type) {
      case 'PAYMENT.CAPTURE.COMPLETED':
      case 'PAYMENT.CAPTURE.DENIED': {
        const parsed = paypalCaptureResource.safeParse(event.resource);
        if (!parsed.success) return this.ignoreMalformed('paypal', event.id, event.event_type, `the capture resource is malformed (${schemaProblem(parsed.error)})`);
        const capture = parsed.data;
        const orderId = orderIdIn({ orderId: capture.custom_id ?? '' });
        if (!orderId) return { outcome: 'ignored', reason: 'the capture names no order' };
        const paypalOrderId = capture.supplementary_data?.related_ids?.order_id;
        const reference = paypalOrderId ? { providerReference: paypalOrderId } : {};
        if (event.event_type === 'PAYMENT.CAPTURE.DENIED') {
          return this.report(orderId, { type: 'RecordPaymentFailure', data: { provider: 'PAYPAL', ...reference, reason: 'PayPal capture denied', now } }, source, context);
        }
        const currency = capture.amount?.currency_code.toUpperCase();
        const amount = capture.amount && currency ? fromPayPalValue(capture.amount.value, currency) : undefined;
        if (amount === undefined || !currency) return { ...this.ignoreMalformed('paypal', event.id, event.event_type, 'the capture amount is malformed'), orderId };
        return this.report(orderId, { type: 'RecordPaymentSuccess', data: { provider: 'PAYPAL', ...reference, amount, currency, now } }, source, context);
      }
      case 'PAYMENT.CAPTURE.REFUNDED': {
        const parsed = paypalRefundResource.safeParse(event.resource);
        if (!parsed.success) return this.ignoreMalformed('paypal', event.id, event.event_type, `the refund resource is malformed (${schemaProblem(parsed.error)})`);
        const refund = parsed.data;
        const captureId = refund.links?.find((l) => l.rel === 'up')?.href.match(/\/captures\/([A-Za-z0-9-]{1,64})$/)?.[1];
        if (!captureId) return { outcome: 'ignored', reason: 'the refund names no capture' };
        let capture;
        try {
          capture = await this.requirePayPal().getCapture(captureId);
        } catch (error) {
          if (error instanceof PaymentProviderError) throw unavailableForRedelivery(error);
          throw error;
        }
        const orderId = orderIdIn({ orderId: capture.customId ?? refund.custom_id ?? '' });
        if (!orderId) return { outcome: 'ignored', reason: 'the refunded capture names no order' };
        const total = refund.seller_payable_breakdown?.total_refunded_amount ?? (capture.status === 'REFUNDED' ? capture.amount : undefined) ?? refund.amount;
        const currency = (typeof total === 'number' ? capture.currency : total?.currency_code)?.toUpperCase();
        const amount = typeof total === 'number' ? total : total && currency ? fromPayPalValue(total.value, currency) : undefined;
        if (amount === undefined || !currency) return { ...this.ignoreMalformed('paypal', event.id, event.event_type, 'the refund amount is malformed'), orderId };
        const command: OrderCommand = {
          type: 'RecordRefund',
          data: {
            provider: 'PAYPAL',
            providerReference: refund.id,
            ...(capture.paypalOrderId ? { paymentReference: capture.paypalOrderId } : {}),
            amount,
            currency,
            now,
          },
        };
        return this.report(orderId, command, source, context);
      }
      default:
        return { outcome: 'ignored', reason: `event type ${event.event_type} is not handled` };
    }
  }

  /** The owner captures a PayPal order the buyer approved; the capture's own status decides. */
  async capturePayPal(orderId: string, context: EncodeContext): Promise<{ capture?: { id: string; status: string }; report?: ReportOutcome }> {
    const { state } = await loadOrder(this.store, orderId);
    if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
    if (state.paymentMethod !== 'PAYPAL') throw new PaymentMethodMismatchError(state.paymentMethod, 'PAYPAL');
    if (!awaitingPayment.has(state.status)) {
      if (state.paidReference !== undefined) return {}; // captured already
      throw new InvalidTransitionError(state.status, 'PAID', 'the order is not awaiting payment');
    }
    const reference = state.paymentReference;
    if (!reference) {
      throw new ConflictError('PAYMENT_NOT_STARTED', `Order ${orderId} has no PayPal payment to capture; start one with POST /orders/${orderId}/pay`);
    }
    const paypal = this.requirePayPal();
    let capture;
    try {
      capture = await paypal.capture(reference);
    } catch (error) {
      if (error instanceof PayPalRequestError && error.status === 422) {
        const why =
          error.issue === 'ORDER_NOT_APPROVED'
            ? 'the buyer has not approved the payment yet'
            : error.issue === 'INSTRUMENT_DECLINED'
              ? "the buyer's funding source was declined; send them back to the approval link"
              : 'PayPal refused the capture';
        // PayPal's own issue code and words stay in the log; the two the buyer can act on are translated above.
        const refused = new ConflictError('PAYPAL_CAPTURE_REFUSED', `Cannot capture order ${orderId}: ${why}`, { orderId });
        refused.logDetail = error.logDetail;
        this.logger.warn({ orderId, issue: error.issue, err: { detail: error.logDetail } }, 'PayPal refused a capture');
        throw refused;
      }
      if (error instanceof PaymentProviderError) {
        throw error.withContext(`Order ${orderId} is unchanged; retry the capture`, { orderId, orderStatus: state.status });
      }
      throw error;
    }
    if (!capture) throw new PaymentProviderError('PAYPAL', 'capture', 'the answer has no capture', false).withContext(`Order ${orderId} is unchanged`, { orderId });
    const source = `paypal-capture:${capture.id}`;
    const paypalOrderId = capture.paypalOrderId ?? reference;
    if (capture.status === 'COMPLETED') {
      if (capture.amount === undefined || !capture.currency) {
        throw new PaymentProviderError('PAYPAL', 'capture', 'the capture amount is malformed', false).withContext(`Order ${orderId} is unchanged`, { orderId });
      }
      const command: OrderCommand = {
        type: 'RecordPaymentSuccess',
        data: { provider: 'PAYPAL', providerReference: paypalOrderId, amount: capture.amount, currency: capture.currency, now: this.now() },
      };
      return { capture: { id: capture.id, status: capture.status }, report: await this.report(orderId, command, source, context) };
    }
    if (capture.status === 'DECLINED' || capture.status === 'FAILED') {
      const command: OrderCommand = {
        type: 'RecordPaymentFailure',
        data: { provider: 'PAYPAL', providerReference: paypalOrderId, reason: `PayPal capture ${capture.status.toLowerCase()}`, now: this.now() },
      };
      return { capture: { id: capture.id, status: capture.status }, report: await this.report(orderId, command, source, context) };
    }
    // PENDING (e.g. an eCheck): PAYMENT.CAPTURE.COMPLETED or DENIED settles it later.
    return { capture: { id: capture.id, status: capture.status } };
  }

  /** The order's stream folded, with every refund request and whether it is of the order's own payment. */
  private async refundRequests(orderId: string): Promise<{ state: OrderState; requests: RefundRequestAt[] }> {
    const recorded = await this.store.readStream(orderStreamId(orderId));
    let state: OrderState = initialOrderState;
    const requests: RefundRequestAt[] = [];
    for (const record of recorded) {
      const { event } = decodeOrderEvent(record);
      const before = state;
      state = evolve(state, event);
      if (event.type === 'RefundRequested' && state.status !== 'NONE' && before.status !== 'NONE') {
        requests.push({ id: record.id, data: event.data, own: !before.refundRequested && state.refundRequested, paidReference: state.paidReference });
      }
    }
    return { state, requests };
  }

  /**
   * Gives back the money one RefundRequested event names, through the provider that took it. The
   * event id is the provider's idempotency key, so running this again (a crash, the reactor and the
   * admin endpoint both) never refunds twice. A synchronous success is recorded at once.
   */
  async executeRefund(orderId: string, refundRequestId: string, context: EncodeContext): Promise<RefundOutcome> {
    const { state, requests } = await this.refundRequests(orderId);
    const request = requests.find((r) => r.id === refundRequestId);
    if (!request || state.status === 'NONE') throw new OrderNotFoundError(orderId);
    const method = request.data.provider;
    if (method === 'MANUAL') return { status: 'awaiting_confirmation' };
    if (request.own && state.status === 'REFUNDED') return { status: 'already_refunded' };
    const paymentReference = request.data.providerReference ?? request.paidReference;
    if (!paymentReference) throw new PaymentProviderError(method, 'refund', 'the refund request names no payment to give back', false);
    if (!request.own && strayPaymentOf(state, paymentReference)?.refunded) return { status: 'already_refunded' };
    const refund = await this.provider(method).refund({
      orderId,
      paymentReference,
      amount: request.data.amount,
      currency: request.data.currency,
      idempotencyKey: refundRequestId,
    });
    if (refund.status === 'succeeded') {
      await this.report(
        orderId,
        {
          type: 'RecordRefund',
          data: { provider: method, providerReference: refund.refundId, paymentReference, amount: refund.amount, currency: refund.currency, now: this.now() },
        },
        `refund:${method}:${refund.refundId}`,
        context,
      );
    } else if (refund.status === 'failed') {
      this.logger.error({ orderId, provider: method, refundId: refund.refundId, reason: refund.failureReason }, 'provider could not refund');
    }
    return { status: refund.status, refundId: refund.refundId, ...(refund.failureReason ? { failureReason: refund.failureReason } : {}) };
  }

  /**
   * Admin refund: requests it (unless a refund of the order's payment is already on its way) and
   * drives it through the provider now. A provider failure leaves the request in place for the
   * refund reactor to retry.
   */
  async refundOrder(orderId: string, reason: string | undefined, context: EncodeContext): Promise<{ result: HandleResult; refund: RefundOutcome }> {
    const { state } = await loadOrder(this.store, orderId);
    if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
    if (!(state.refundRequested && state.status !== 'REFUNDED')) {
      await handleOrderCommand(this.store, orderId, { type: 'RequestRefund', data: { ...(reason ? { reason } : {}), now: this.now() } }, { context });
    }
    const { requests } = await this.refundRequests(orderId);
    const own = [...requests].reverse().find((r) => r.own);
    if (!own) throw new InvalidTransitionError(state.status, 'REFUNDED', 'nothing was paid');
    let refund: RefundOutcome;
    try {
      refund = await this.executeRefund(orderId, own.id, context);
    } catch (error) {
      if (error instanceof PaymentProviderError) {
        throw error.withContext(`The refund of order ${orderId} is requested and will be retried automatically`, { orderId, refundRequested: true });
      }
      throw error;
    }
    return { result: await this.current(orderId), refund };
  }

  /** An admin confirms a MANUAL refund was paid out. */
  async confirmManualRefund(orderId: string, context: EncodeContext): Promise<HandleResult> {
    const { state } = await loadOrder(this.store, orderId);
    if (state.status === 'NONE') throw new OrderNotFoundError(orderId);
    if (state.paymentMethod !== 'MANUAL') throw new PaymentMethodMismatchError(state.paymentMethod, 'MANUAL');
    if (state.status === 'REFUNDED') return this.current(orderId);
    if (!state.refundRequested) {
      throw new ConflictError('REFUND_NOT_REQUESTED', `Order ${orderId} has no refund to confirm; request one with POST /orders/${orderId}/refund`);
    }
    return handleOrderCommand(
      this.store,
      orderId,
      { type: 'RecordRefund', data: { provider: 'MANUAL', amount: state.paidAmount, currency: state.currency, now: this.now() } },
      { context },
    );
  }
}

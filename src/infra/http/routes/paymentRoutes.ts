import '../openapi';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import { loadOrder } from '../../../commands/orderCommandHandler';
import { InvalidTransitionError, OrderNotFoundError } from '../../../commands/order/orderErrors';
import { ConflictError, ValidationError } from '../../../errors';
import { orderDtoSchema } from '../../../queries/orderQueries';
import { plainTextSchema } from '../../../queries/plainText';
import type { Deps } from '../../deps';
import { PaymentProviderError, PaymentProviderNotConfiguredError } from '../../payments/paymentProvider';
import { paymentsOf, paypalWebhookEventSchema, unavailableForRedelivery } from '../../payments/payments';
import { paypalWebhookHeaders, type PayPalWebhookHeaders } from '../../payments/paypalProvider';
import { verifyStripeWebhook } from '../../payments/stripeProvider';
import type { AppHooks } from '../app';
import type { AuthUser } from '../authTokens';
import { answerCommand, commandResponse, consistencyResponseHeaders, consistencySchema } from '../commandAnswer';
import { errorResponseSchema } from '../openapi';
import { defineRoute, type RouteDeps } from '../route';

const WEBHOOK_BODY_LIMIT = '1mb';

const actorOf = (user: AuthUser) => ({ type: user.role === 'admin' ? ('admin' as const) : ('user' as const), id: user.id });

/** Owners and admins may act on an order; everyone else sees 404. Reads the stream, never the read model. */
async function assertOwnerOrAdmin(deps: Deps, orderId: string, user: AuthUser): Promise<void> {
  const { state } = await loadOrder(deps.store, orderId);
  if (state.status === 'NONE' || (user.role !== 'admin' && state.userId !== user.id)) throw new OrderNotFoundError(orderId);
}

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });

const paymentSessionFields = {
  clientSecret: z.string().optional().openapi({ description: 'STRIPE: the PaymentIntent client secret for Stripe.js' }),
  paymentUrl: z.string().optional().openapi({ description: 'PAYPAL: where the buyer approves the payment' }),
};

const startPaymentResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({ order: orderDtoSchema, position: z.string(), consistency: consistencySchema, ...paymentSessionFields }),
  })
  .openapi('PaymentStartResponse');

const captureBodySchema = z.object({ orderId: z.uuid() }).strict().openapi('PayPalCaptureRequest');
const captureResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({
      order: orderDtoSchema,
      position: z.string(),
      consistency: consistencySchema,
      capture: z.object({ id: z.string(), status: z.string() }).nullable().describe('null when the order was already paid'),
    }),
  })
  .openapi('PayPalCaptureResponse');

const refundBodySchema = z.object({ reason: plainTextSchema(500, 'reason').optional() }).strict().openapi('RefundRequest');
const refundResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({
      order: orderDtoSchema,
      position: z.string(),
      consistency: consistencySchema,
      refund: z.object({
        status: z
          .enum(['succeeded', 'pending', 'failed', 'awaiting_confirmation', 'already_refunded'])
          .describe('pending: the provider confirms by webhook; awaiting_confirmation: MANUAL, confirm with /refund/confirm'),
        refundId: z.string().optional(),
        failureReason: z.string().optional(),
      }),
    }),
  })
  .openapi('RefundResponse');
const orderCommandResponse = z
  .object({ status: z.literal('success'), data: z.object({ order: orderDtoSchema, position: z.string(), consistency: consistencySchema }) })
  .openapi('RefundConfirmResponse');

const webhookResponseSchema = z
  .object({
    received: z.literal(true),
    outcome: z.enum(['recorded', 'unchanged', 'ignored']),
    reason: z.string().optional(),
  })
  .openapi('WebhookResponse');

export function registerPaymentRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/pay',
    summary: 'Start (or resume) the online payment of an order awaiting payment; retry after a provider failure',
    tags: ['Payments'],
    access: 'user',
    params: orderIdParams,
    responses: {
      200: { description: 'What the client needs to pay', schema: startPaymentResponseSchema, headers: consistencyResponseHeaders },
      404: { description: 'No such order for this user' },
      409: { description: 'The order is not awaiting an online payment' },
      502: { description: 'The provider failed or timed out; the order stays retryable' },
      503: { description: 'The provider is not configured' },
    },
    handler: async ({ params, user, requestId }) => {
      const payments = paymentsOf(deps);
      await assertOwnerOrAdmin(deps, params.id, user!);
      const { state } = await loadOrder(deps.store, params.id);
      if (state.status === 'NONE') throw new OrderNotFoundError(params.id);
      if (state.paymentMethod === 'MANUAL') {
        throw new ConflictError('PAYMENT_NOT_ONLINE', 'MANUAL orders are paid offline; an admin confirms with POST /orders/:id/mark-paid');
      }
      if (state.status !== 'PENDING' && state.status !== 'PAYMENT_FAILED') {
        throw new InvalidTransitionError(state.status, 'PENDING', 'payment can only start while awaiting payment');
      }
      const { result, session } = await payments.startPayment(params.id, { actor: actorOf(user!), requestId });
      const sessionFields = { ...(session?.clientSecret ? { clientSecret: session.clientSecret } : {}), ...(session?.paymentUrl ? { paymentUrl: session.paymentUrl } : {}) };
      return commandResponse(200, await answerCommand(deps, result), sessionFields);
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/payments/paypal/capture',
    summary: 'Capture a PayPal payment the buyer approved (owner); the capture status decides paid or failed',
    tags: ['Payments'],
    access: 'user',
    body: captureBodySchema,
    responses: {
      200: { description: 'Captured (or already paid)', schema: captureResponseSchema, headers: consistencyResponseHeaders },
      404: { description: 'No such order for this user' },
      409: { description: 'Not a PayPal order awaiting payment, or PayPal refused the capture (not approved yet)' },
      502: { description: 'PayPal failed or timed out; the order is unchanged' },
      503: { description: 'PayPal is not configured' },
    },
    handler: async ({ body, user, requestId }) => {
      const payments = paymentsOf(deps);
      await assertOwnerOrAdmin(deps, body.orderId, user!);
      const { capture } = await payments.capturePayPal(body.orderId, { actor: actorOf(user!), requestId });
      const answer = await answerCommand(deps, await payments.current(body.orderId));
      return commandResponse(200, answer, { capture: capture ?? null });
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/refund',
    summary: 'Refund a paid order through the provider that took the payment (admin)',
    tags: ['Payments'],
    access: 'admin',
    params: orderIdParams,
    body: refundBodySchema,
    responses: {
      200: {
        description: 'Refund requested and sent to the provider (REFUNDED once the provider confirms)',
        schema: refundResponseSchema,
        headers: consistencyResponseHeaders,
      },
      404: { description: 'No such order' },
      409: { description: 'Nothing was paid, or already refunded' },
      502: { description: 'The provider failed; the refund stays requested and is retried' },
    },
    handler: async ({ params, body, user, requestId }) => {
      const payments = paymentsOf(deps);
      const { result, refund } = await payments.refundOrder(params.id, body.reason, { actor: actorOf(user!), requestId });
      return commandResponse(200, await answerCommand(deps, result), { refund });
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/refund/confirm',
    summary: 'Confirm that the refund of a MANUAL order was paid out (admin)',
    tags: ['Payments'],
    access: 'admin',
    params: orderIdParams,
    responses: {
      200: { description: 'The order is REFUNDED', schema: orderCommandResponse, headers: consistencyResponseHeaders },
      404: { description: 'No such order' },
      409: { description: 'Not a MANUAL order, or no refund was requested' },
    },
    handler: async ({ params, user, requestId }) => {
      const result = await paymentsOf(deps).confirmManualRefund(params.id, { actor: actorOf(user!), requestId });
      return commandResponse(200, await answerCommand(deps, result));
    },
  });

  registerWebhookDocs(routes);
}

/** Raw-body routes cannot go through defineRoute; their documentation is registered by hand. */
function registerWebhookDocs(routes: RouteDeps): void {
  const errors = {
    400: { description: 'Missing or invalid signature; nothing recorded', content: { 'application/json': { schema: errorResponseSchema } } },
    503: { description: 'Not configured, or the provider could not be reached; deliver again', content: { 'application/json': { schema: errorResponseSchema } } },
  };
  routes.registry.registerPath({
    method: 'post',
    path: '/payments/webhook/stripe',
    summary: 'Stripe events (payment_intent.succeeded / payment_failed / canceled, charge.refunded), verified by Stripe-Signature over the raw body',
    tags: ['Payments'],
    request: {
      headers: z.object({ 'stripe-signature': z.string().openapi({ description: 'Stripe webhook signature' }) }),
      body: { required: true, content: { 'application/json': { schema: z.object({ id: z.string(), type: z.string(), data: z.object({ object: z.unknown() }) }) } } },
    },
    responses: { 200: { description: 'Received (recorded, a duplicate, or ignored)', content: { 'application/json': { schema: webhookResponseSchema } } }, ...errors },
  });
  routes.registry.registerPath({
    method: 'post',
    path: '/payments/webhook/paypal',
    summary: "PayPal events (PAYMENT.CAPTURE.COMPLETED / DENIED / REFUNDED), verified through PayPal's verify-webhook-signature API",
    tags: ['Payments'],
    request: {
      headers: z.object(Object.fromEntries(paypalWebhookHeaders.map((name) => [name, z.string()]))),
      body: { required: true, content: { 'application/json': { schema: paypalWebhookEventSchema } } },
    },
    responses: { 200: { description: 'Received (recorded, a duplicate, or ignored)', content: { 'application/json': { schema: webhookResponseSchema } } }, ...errors },
  });
}

function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function answer(res: Response, outcome: { outcome: string; reason?: string }): void {
  res.status(200).json({ received: true, outcome: outcome.outcome, ...(outcome.reason ? { reason: outcome.reason } : {}) });
}

/** Webhooks read the exact bytes the provider signed, so they mount before the JSON parser. */
export function mountPaymentWebhooks(app: Express, deps: Deps): void {
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });

  app.post('/payments/webhook/stripe', raw, async (req: Request, res: Response) => {
    const payments = paymentsOf(deps);
    const secret = deps.config.STRIPE_WEBHOOK_SECRET;
    if (!secret) throw new PaymentProviderNotConfiguredError('STRIPE', ['STRIPE_WEBHOOK_SECRET']);
    const event = verifyStripeWebhook(rawBody(req), req.header('stripe-signature'), secret);
    answer(res, await payments.handleStripeEvent(event));
  });

  app.post('/payments/webhook/paypal', raw, async (req: Request, res: Response) => {
    const payments = paymentsOf(deps);
    if (!deps.config.PAYPAL_WEBHOOK_ID) throw new PaymentProviderNotConfiguredError('PAYPAL', ['PAYPAL_WEBHOOK_ID']);
    const paypal = payments.requirePayPal();
    const headers: Partial<PayPalWebhookHeaders> = {};
    for (const name of paypalWebhookHeaders) {
      const value = req.header(name);
      if (value) headers[name] = value;
    }
    const missing = paypalWebhookHeaders.filter((name) => !headers[name]);
    if (missing.length > 0) throw new ValidationError(`Missing PayPal signature headers: ${missing.join(', ')}`, undefined, 'WEBHOOK_SIGNATURE_MISSING');
    const body = rawBody(req).toString('utf8');
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
    answer(res, await payments.handlePayPalEvent(event.data));
  });
}

/** The app hooks that add payments to an app; the caller's own hooks run after. */
export function withPaymentRoutes(deps: Deps, hooks: AppHooks = {}): AppHooks {
  return {
    beforeJson: (app) => {
      mountPaymentWebhooks(app, deps);
      hooks.beforeJson?.(app);
    },
    routes: [registerPaymentRoutes, ...(hooks.routes ?? [])],
  };
}

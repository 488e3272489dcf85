import '../openapi';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import { actorOf, asCaller } from '../../../commands/order/orderAccess';
import { capturePayPal } from '../../../commands/payments/capturePayment';
import type { PaymentDeps } from '../../../commands/payments/paymentDeps';
import { requestPartialRefund, retryRefund } from '../../../commands/payments/partialRefunds';
import { confirmManualRefund, refundOrder } from '../../../commands/payments/refunds';
import { startPayment } from '../../../commands/payments/startPayment';
import { receiveWebhook } from '../../../commands/payments/webhooks';
import { UnavailableError } from '../../../errors';
import { orderDtoSchema } from '../../../queries/orderQueries';
import { plainTextSchema } from '../../../queries/plainText';
import type { Deps } from '../../deps';
import type { PaymentSession } from '../../payments/paymentProvider';
import { webhookProviders } from '../../payments/paymentProviders';
import { paypalWebhookEventSchema, paypalWebhookHeaders } from '../../payments/paypalWebhooks';
import type { AppHooks } from '../app';
import { answerCommand, commandResponse, consistencyResponseHeaders, consistencySchema } from '../commandAnswer';
import { errorResponseSchema } from '../openapi';
import { ifMatchRevision } from '../consistencyParams';
import { EXAMPLES_EXTENSION, errorExampleBody, placeholder, UNKNOWN_ID, type ExampleRequest } from '../examples';
import { defineRoute, operationExamples, type RouteDeps, type RouteResponse } from '../route';
import { registerPayPalReturnRoutes } from './paypalReturnRoutes';
import { registerReturnRoutes } from './returnRoutes';

const WEBHOOK_BODY_LIMIT = '1mb';

/** Payments live in the api and worker roles; reaching here without them is a wiring bug. */
export function paymentsOf(deps: Deps): PaymentDeps {
  if (!deps.payments) throw new UnavailableError('PAYMENTS_UNAVAILABLE', 'Payments are not available in this process');
  return deps.payments;
}

/** What a client needs to continue paying: Stripe's client secret or PayPal's approval link. */
export function paymentSessionFields(session: PaymentSession | undefined): { clientSecret?: string; paymentUrl?: string } {
  return { ...(session?.clientSecret ? { clientSecret: session.clientSecret } : {}), ...(session?.paymentUrl ? { paymentUrl: session.paymentUrl } : {}) };
}

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });

const paymentSessionSchemaFields = {
  clientSecret: z.string().optional().openapi({ description: 'STRIPE: the PaymentIntent client secret for Stripe.js' }),
  paymentUrl: z.string().optional().openapi({ description: 'PAYPAL: where the buyer approves the payment' }),
};

const startPaymentResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({ order: orderDtoSchema, position: z.string(), consistency: consistencySchema, ...paymentSessionSchemaFields }),
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

const refundBodySchema = z
  .object({ reason: plainTextSchema(500, 'reason').optional() })
  .strict()
  .openapi('RefundRequest');
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
const partialRefundBodySchema = z
  .object({
    amount: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().describe('Minor units to give back'),
    lines: z
      .array(z.object({ productId: z.uuid(), quantity: z.number().int().min(1).max(1000) }).strict())
      .min(1)
      .max(100)
      .optional()
      .describe('Order lines to give back, priced from the order'),
    reason: plainTextSchema(500, 'reason'),
  })
  .strict()
  .refine((body) => (body.amount === undefined) !== (body.lines === undefined), { message: 'give an amount or lines, not both', path: ['amount'] })
  .openapi('PartialRefundRequest', {
    example: { lines: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', quantity: 1 }], reason: 'one mug arrived chipped' },
  });
const partialRefundResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({
      order: orderDtoSchema,
      position: z.string(),
      consistency: consistencySchema,
      refund: z.object({
        refundId: z.uuid(),
        status: z
          .enum(['succeeded', 'pending', 'failed', 'awaiting_confirmation'])
          .describe('pending: the provider confirms by webhook; failed: refused (retry it); awaiting_confirmation: MANUAL, confirm with /refund/confirm'),
        providerRefundId: z.string().optional(),
        failureReason: z.string().optional(),
      }),
    }),
  })
  .openapi('PartialRefundResponse');
const refundParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }), refundId: z.uuid().openapi({ description: 'Refund id' }) });
const confirmBodySchema = z
  .object({ refundId: z.uuid().optional().describe('The partial refund paid out; without it the full refund, or the only partial refund awaiting confirmation') })
  .strict()
  .openapi('RefundConfirmRequest');
const ifMatchHeaders = z.object({ 'if-match': z.string().optional().openapi({ description: 'Order revision last seen; 412 when stale' }) });
/** An order revision none of the examples' fresh orders has reached. */
export const STALE_IF_MATCH = { 'if-match': '"99"' };

const orderCommandResponse = z
  .object({ status: z.literal('success'), data: z.object({ order: orderDtoSchema, position: z.string(), consistency: consistencySchema }) })
  .openapi('RefundConfirmResponse');

export const webhookResponseSchema = z
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
    example: { params: { id: placeholder('paypalOrderId') } },
    responses: {
      200: { description: 'What the client needs to pay', schema: startPaymentResponseSchema, headers: consistencyResponseHeaders },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
      409: { description: 'The order is not awaiting an online payment', code: 'PAYMENT_NOT_ONLINE', request: { params: { id: placeholder('orderId') } } },
      502: { description: 'The provider failed or timed out; the order stays retryable', code: 'PAYMENT_PROVIDER_ERROR' },
      503: { description: 'The provider is not configured', code: 'PAYMENT_PROVIDER_NOT_CONFIGURED' },
    },
    handler: async ({ params, user, requestId }) => {
      const { result, session } = await startPayment(paymentsOf(deps), params.id, asCaller(user!, params.id, requestId));
      return commandResponse(200, await answerCommand(deps, result), paymentSessionFields(session));
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/payments/paypal/capture',
    summary: 'Capture a PayPal payment the buyer approved (owner); the capture status decides paid or failed',
    tags: ['Payments'],
    access: 'user',
    body: captureBodySchema,
    example: { body: { orderId: placeholder('approvedPaypalOrderId') } },
    responses: {
      200: { description: 'Captured (or already paid)', schema: captureResponseSchema, headers: consistencyResponseHeaders },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { body: { orderId: UNKNOWN_ID } } },
      409: {
        description: 'Not a PayPal order awaiting payment, or PayPal refused the capture (not approved yet)',
        code: 'PAYPAL_CAPTURE_REFUSED',
        request: { body: { orderId: placeholder('paypalOrderId') } },
      },
      502: { description: 'PayPal failed or timed out; the order is unchanged', code: 'PAYMENT_PROVIDER_ERROR' },
      503: { description: 'PayPal is not configured', code: 'PAYMENT_PROVIDER_NOT_CONFIGURED' },
    },
    handler: async ({ body, user, requestId }) => {
      const { capture, result } = await capturePayPal(paymentsOf(deps), body.orderId, asCaller(user!, body.orderId, requestId));
      return commandResponse(200, await answerCommand(deps, result), { capture: capture ?? null });
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
    headers: ifMatchHeaders,
    example: { params: { id: placeholder('paidOrderId') }, body: { reason: 'changed my mind' } },
    responses: {
      200: {
        description: 'Refund requested and sent to the provider (REFUNDED once the provider confirms)',
        schema: refundResponseSchema,
        headers: consistencyResponseHeaders,
      },
      404: { description: 'No such order', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body: {} } },
      409: { description: 'Nothing was paid, or already refunded', code: 'ORDER_INVALID_TRANSITION', request: { params: { id: placeholder('orderId') }, body: {} } },
      412: { description: 'If-Match revision is stale', code: 'REVISION_MISMATCH', request: { params: { id: placeholder('paidOrderId') }, body: {}, headers: STALE_IF_MATCH } },
      502: { description: 'The provider failed; the refund stays requested and is retried', code: 'PAYMENT_PROVIDER_ERROR' },
    },
    handler: async ({ params, body, user, req, requestId }) => {
      const { result, refund } = await refundOrder(paymentsOf(deps), params.id, body.reason, { actor: actorOf(user!), requestId }, ifMatchRevision(req));
      return commandResponse(200, await answerCommand(deps, result), { refund });
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/refunds',
    summary: 'Give back part of a paid order (an amount, or lines priced from the order) through the provider that took the payment (admin)',
    tags: ['Payments'],
    access: 'admin',
    params: orderIdParams,
    body: partialRefundBodySchema,
    headers: ifMatchHeaders,
    example: { params: { id: placeholder('paidOrderId') }, body: { lines: [{ productId: placeholder('productId'), quantity: 1 }], reason: 'the bag arrived torn' } },
    responses: {
      200: {
        description: 'Refund requested and sent to the provider; REFUNDED once everything paid is back',
        schema: partialRefundResponseSchema,
        headers: consistencyResponseHeaders,
      },
      400: {
        description: 'Neither or both of amount and lines, a line not in the order or more than is left of it',
        code: 'ORDER_INVALID',
        request: { params: { id: placeholder('paidOrderId') }, body: { lines: [{ productId: placeholder('productId'), quantity: 2 }], reason: 'two bags arrived torn' } },
      },
      404: { description: 'No such order', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body: { amount: 100, reason: 'late delivery' } } },
      409: {
        description: 'Nothing was paid, a full refund is on its way, or the refunds would exceed the payment (REFUND_EXCEEDS_PAYMENT)',
        code: 'REFUND_EXCEEDS_PAYMENT',
        request: { params: { id: placeholder('paidOrderId') }, body: { amount: 99999999, reason: 'late delivery' } },
      },
      412: {
        description: 'If-Match revision is stale',
        code: 'REVISION_MISMATCH',
        request: { params: { id: placeholder('paidOrderId') }, body: { amount: 100, reason: 'late delivery' }, headers: STALE_IF_MATCH },
      },
      502: { description: 'The provider failed; the refund stays requested and is retried', code: 'PAYMENT_PROVIDER_ERROR' },
    },
    handler: async ({ params, body, user, req, requestId }) => {
      const expectedRevision = ifMatchRevision(req);
      const { result, refund } = await requestPartialRefund(
        paymentsOf(deps),
        params.id,
        { ...(body.amount !== undefined ? { amount: body.amount } : {}), ...(body.lines ? { lines: body.lines } : {}), reason: body.reason },
        { context: { actor: actorOf(user!), requestId }, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
      );
      return commandResponse(200, await answerCommand(deps, result), { refund });
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/refunds/:refundId/retry',
    summary: 'Try a refund the provider refused again, as a new attempt (admin)',
    tags: ['Payments'],
    access: 'admin',
    params: refundParams,
    headers: ifMatchHeaders,
    example: { params: { id: placeholder('failedRefundOrderId'), refundId: placeholder('failedRefundId') } },
    responses: {
      200: { description: 'Retried and sent to the provider', schema: partialRefundResponseSchema, headers: consistencyResponseHeaders },
      404: { description: 'No such order or refund', code: 'REFUND_NOT_FOUND', request: { params: { id: placeholder('paidOrderId'), refundId: UNKNOWN_ID } } },
      409: {
        description: 'The refund did not fail (REFUND_NOT_RETRYABLE), or it no longer fits in what was paid',
        code: 'REFUND_NOT_RETRYABLE',
        request: { params: { id: placeholder('paidOrderId'), refundId: placeholder('refundId') } },
      },
      412: {
        description: 'If-Match revision is stale',
        code: 'REVISION_MISMATCH',
        request: { params: { id: placeholder('failedRefundOrderId'), refundId: placeholder('failedRefundId') }, headers: STALE_IF_MATCH },
      },
      502: { description: 'The provider failed; the retry stays requested and is retried', code: 'PAYMENT_PROVIDER_ERROR' },
    },
    handler: async ({ params, user, req, requestId }) => {
      const expectedRevision = ifMatchRevision(req);
      const { result, refund } = await retryRefund(paymentsOf(deps), params.id, params.refundId, {
        context: { actor: actorOf(user!), requestId },
        ...(expectedRevision !== undefined ? { expectedRevision } : {}),
      });
      return commandResponse(200, await answerCommand(deps, result), { refund });
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/refund/confirm',
    summary: 'Confirm that a refund of a MANUAL order (the full refund, or one partial refund) was paid out (admin)',
    tags: ['Payments'],
    access: 'admin',
    params: orderIdParams,
    body: confirmBodySchema,
    headers: ifMatchHeaders,
    example: { params: { id: placeholder('refundRequestedOrderId') }, body: {} },
    responses: {
      200: { description: 'The refund is recorded; the order is REFUNDED once everything paid is back', schema: orderCommandResponse, headers: consistencyResponseHeaders },
      404: { description: 'No such order or refund', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body: {} } },
      409: {
        description: 'Not a MANUAL order, no refund was requested, or several await confirmation (REFUND_ID_REQUIRED)',
        code: 'REFUND_NOT_REQUESTED',
        request: { params: { id: placeholder('paidOrderId') }, body: {} },
      },
      412: {
        description: 'If-Match revision is stale',
        code: 'REVISION_MISMATCH',
        request: { params: { id: placeholder('refundRequestedOrderId') }, body: {}, headers: STALE_IF_MATCH },
      },
    },
    handler: async ({ params, body, user, req, requestId }) => {
      const result = await confirmManualRefund(paymentsOf(deps), params.id, { actor: actorOf(user!), requestId }, body.refundId, ifMatchRevision(req));
      return commandResponse(200, await answerCommand(deps, result));
    },
  });

  registerWebhookDocs(routes);
}

/** The webhook route's URLs: one per provider whose adapter receives webhooks (`/payments/webhook/stripe`, `…/paypal`). */
const webhookPaths = Object.keys(webhookProviders).map((name) => `/payments/webhook/${name}`);

/** The raw-body route cannot go through defineRoute; its documentation is registered by hand, one path per provider. */
function registerWebhookDocs(routes: RouteDeps): void {
  // Only the provider can sign a notification: the request examples show the shape, their signatures are samples.
  // The examples run against a server with PayPal's keys and without Stripe's: an unsigned delivery gets 400 from one, 503 from the other.
  const documented = (example: ExampleRequest, sent: 400 | 503) => {
    const unsigned = { body: example.body };
    const statuses: Record<number, RouteResponse> = {
      400: {
        description: 'Missing or invalid signature; nothing recorded',
        code: 'WEBHOOK_SIGNATURE_MISSING',
        ...(sent === 400 ? { request: unsigned } : {}),
      },
      503: {
        description: 'Not configured, or the provider could not be reached; deliver again',
        code: 'PAYMENT_PROVIDER_NOT_CONFIGURED',
        ...(sent === 503 ? { request: unsigned } : {}),
      },
    };
    const examples = operationExamples('public', example, statuses);
    const errors = Object.fromEntries(
      Object.entries(statuses).map(([status, response]) => [
        status,
        { description: response.description, content: { 'application/json': { schema: errorResponseSchema, example: errorExampleBody(examples.errors[status]!) } } },
      ]),
    );
    return {
      [EXAMPLES_EXTENSION]: examples,
      responses: { 200: { description: 'Received (recorded, a duplicate, or ignored)', content: { 'application/json': { schema: webhookResponseSchema } } }, ...errors },
    };
  };
  const stripeExample = {
    headers: { 'stripe-signature': 't=1764000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd' },
    body: { id: 'evt_3QdemoEvent', type: 'payment_intent.succeeded', data: { object: { id: 'pi_3QdemoIntent', object: 'payment_intent', metadata: { orderId: UNKNOWN_ID } } } },
  };
  const paypalExample = {
    headers: {
      'paypal-auth-algo': 'SHA256withRSA',
      'paypal-cert-url': 'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-5edc0ebc',
      'paypal-transmission-id': '69cd13f0-d67a-11e5-baa3-778b53f4ae55',
      'paypal-transmission-sig':
        'lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUlnGJn0wDugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pOowfRK7OaynuxUoKW3JcMWw272VKjLTtTAShncla7tGF+55rxyt2KNZIIqxNMJ48RDZheGU5w1npu9dZHnPgTXB9iomeVRoD8O/jhRpnKsGrDschyNdkeh81BJJMH4Ctc6lnCCquoP/GzCzz33MMsNdid7vL/NIWaCsekQpW26FpWPi/tfj8nLA==',
      'paypal-transmission-time': '2026-03-01T09:00:00Z',
    },
    body: {
      id: 'WH-2WR32451HC0233532-67976317FL4543714',
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      resource_type: 'capture',
      resource: { id: '42311647XV020574X', status: 'COMPLETED', custom_id: UNKNOWN_ID, amount: { currency_code: 'EUR', value: '49.80' } },
    },
  };
  routes.registry.registerPath({
    method: 'post',
    path: '/payments/webhook/stripe',
    summary: 'Stripe events (payment_intent.succeeded / payment_failed / canceled, charge.refunded), verified by the Stripe adapter: Stripe-Signature over the raw body',
    tags: ['Payments'],
    request: {
      headers: z.object({ 'stripe-signature': z.string().openapi({ description: 'Stripe webhook signature' }) }),
      body: {
        required: true,
        content: { 'application/json': { schema: z.object({ id: z.string(), type: z.string(), data: z.object({ object: z.unknown() }) }), example: stripeExample.body } },
      },
    },
    ...documented(stripeExample, 503),
  });
  routes.registry.registerPath({
    method: 'post',
    path: '/payments/webhook/paypal',
    summary: "PayPal events (PAYMENT.CAPTURE.COMPLETED / DENIED / REFUNDED), verified by the PayPal adapter through PayPal's verify-webhook-signature API with the raw body",
    tags: ['Payments'],
    request: {
      headers: z.object(Object.fromEntries(paypalWebhookHeaders.map((name) => [name, z.string()]))),
      body: { required: true, content: { 'application/json': { schema: paypalWebhookEventSchema, example: paypalExample.body } } },
    },
    ...documented(paypalExample, 400),
  });
}

/**
 * One route, POST /payments/webhook/:provider, for every provider's webhooks: the exact bytes the
 * provider signed (mounted before the JSON parser) go to that provider's adapter. Its URLs are the
 * providers' names, so an unknown provider is a 404 like any unknown URL.
 */
export function mountPaymentWebhooks(app: Express, deps: Deps): void {
  const raw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  app.post(webhookPaths, raw, async (req: Request, res: Response) => {
    // Express matches paths case-insensitively and with a trailing slash: name the provider the same way.
    const provider = req.path.slice('/payments/webhook/'.length).replace(/\/+$/, '').toLowerCase();
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = await receiveWebhook(paymentsOf(deps), provider, { rawBody, header: (name) => req.header(name) });
    res.status(200).json({ received: true, outcome: outcome.outcome, ...(outcome.reason ? { reason: outcome.reason } : {}) });
  });
}

/** The app hooks that add payments to an app; the caller's own hooks run after. */
export function withPaymentRoutes(deps: Deps, hooks: AppHooks = {}): AppHooks {
  return {
    beforeJson: (app) => {
      mountPaymentWebhooks(app, deps);
      hooks.beforeJson?.(app);
    },
    routes: [registerPaymentRoutes, registerPayPalReturnRoutes, registerReturnRoutes, ...(hooks.routes ?? [])],
  };
}

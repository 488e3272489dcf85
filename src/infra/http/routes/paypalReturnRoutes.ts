import '../openapi';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { z } from 'zod';
import { cancelFromPayPal, returnFromPayPal, type PayPalReturn, type PayPalReturnOutcome } from '../../../commands/payments/paypalReturn';
import { AppError } from '../../../errors';
import { orderStatusSchema } from '../../../events/orderEvents';
import type { Deps } from '../../deps';
import { statusOf } from '../errorHandler';
import { placeholder } from '../examples';
import { createLimiter } from '../rateLimit';
import { defineRoute, type RouteDeps, type RouteResult } from '../route';
import { paymentsOf } from './paymentRoutes';

// PayPal appends `token` (its order id) and, on approval, `PayerID`; anything else it adds is ignored.
const returnQuerySchema = z.object({
  token: z.string().min(1).max(64).openapi({ description: "PayPal's order id, appended by PayPal" }),
  PayerID: z.string().max(64).optional().openapi({ description: 'Appended by PayPal on approval; not used' }),
});

const outcomes = ['paid', 'pending', 'failed', 'declined', 'cancelled'] as const satisfies readonly PayPalReturnOutcome[];
const returnResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z.object({
      orderId: z.uuid(),
      outcome: z.enum(outcomes).describe('paid; pending (PayPal settles it by webhook); failed or declined (pay again with POST /orders/{id}/pay); cancelled'),
      orderStatus: orderStatusSchema,
    }),
  })
  .openapi('PayPalReturnResponse');

const messages: Record<PayPalReturnOutcome, string> = {
  paid: 'Thank you: your payment was received.',
  pending: 'PayPal is still processing your payment; the order updates as soon as it settles.',
  failed: 'PayPal could not take the payment. You can pay again from your order.',
  declined: 'PayPal declined the payment. You can approve it again or choose another funding source from your order.',
  cancelled: 'You cancelled the payment at PayPal. The order is kept; you can pay it later.',
};

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, lines: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title></head>`,
    `<body><main><h1>${escapeHtml(title)}</h1>`,
    ...lines.map((line) => `<p>${escapeHtml(line)}</p>`),
    '<p><a href="/">Back to the shop</a></p></main></body></html>',
    '',
  ].join('\n');
}

/** A browser (it prefers text/html) gets a page; any other client, one sending no Accept included, JSON. */
const wantsHtml = (req: Request): boolean => req.accepts(['json', 'html']) === 'html';

function answer(deps: Deps, req: Request, result: PayPalReturn): RouteResult {
  const target = deps.config.PAYMENT_RESULT_URL;
  if (target !== undefined) {
    const url = new URL(target);
    url.searchParams.set('orderId', result.orderId);
    url.searchParams.set('outcome', result.outcome);
    return { status: 303, body: undefined, redirect: url.toString() };
  }
  if (wantsHtml(req)) {
    return {
      status: 200,
      body: undefined,
      html: page(result.outcome === 'paid' ? 'Payment received' : 'Payment not completed', [messages[result.outcome], `Order ${result.orderId}: ${result.orderStatus}.`]),
    };
  }
  return { status: 200, body: { status: 'success', data: result } };
}

/** A refusal a browser lands on is a page saying what went wrong; a JSON client gets the usual error. */
async function landing(req: Request, run: () => Promise<RouteResult>): Promise<RouteResult> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AppError) || !wantsHtml(req)) throw error;
    return { status: statusOf(error), body: undefined, html: page('Payment not completed', [error.message]) };
  }
}

function returnRateLimit(deps: Deps): RequestHandler {
  return createLimiter(deps, {
    name: 'paypal-return',
    limit: deps.config.PAYPAL_RETURN_RATE_LIMIT_MAX,
    code: 'RATE_LIMITED',
    message: 'Too many PayPal returns from this address; retry later',
    keyGenerator: (req: Request) => `ip:${ipKeyGenerator(req.ip ?? '')}`,
  });
}

/**
 * Where PayPal sends the buyer back (PAYMENT_RETURN_URL and PAYMENT_CANCEL_URL point here by
 * default). Public: PayPal's redirect carries no bearer token, so the order is found through the
 * token PayPal appends, and only that order's current PayPal payment is acted on.
 */
export function registerPayPalReturnRoutes(routes: RouteDeps, deps: Deps): void {
  const limiter = returnRateLimit(deps);
  const common = {
    tags: ['Payments'],
    access: 'public' as const,
    query: returnQuerySchema,
    headers: z.object({ accept: z.string().optional().openapi({ description: 'text/html (as browsers send) for a page; otherwise JSON' }) }),
    before: [limiter],
  };
  const unknown = {
    description: 'PayPal knows no such token, or it is not a payment of this shop',
    code: 'PAYPAL_TOKEN_UNKNOWN',
    message: 'No order of this shop is paid with this PayPal token; start the payment again from the order',
    request: { query: { token: '5O190127TN364715T' }, headers: { accept: 'application/json' } },
  };

  defineRoute(routes, {
    ...common,
    method: 'get',
    path: '/payments/paypal/return',
    summary: 'PayPal sends the buyer back here after approval: captures the payment (idempotent) and redirects to PAYMENT_RESULT_URL, or shows a page',
    example: { query: { token: placeholder('approvedPaypalToken'), PayerID: 'QYR5Z8XDVJNXQ' }, headers: { accept: 'application/json' } },
    responses: {
      200: { description: 'Outcome (JSON, or a small HTML page for browsers) when PAYMENT_RESULT_URL is not set', schema: returnResponseSchema },
      303: { description: 'Redirect to PAYMENT_RESULT_URL?orderId=…&outcome=…' },
      400: { description: 'No token', code: 'VALIDATION_FAILED', request: { query: {}, headers: { accept: 'application/json' } } },
      404: unknown,
      409: {
        description: 'The token belongs to an earlier payment attempt of the order',
        code: 'PAYPAL_TOKEN_STALE',
        message: 'This PayPal approval belongs to an earlier payment attempt of order 3f2a…; use the latest payment link (POST /orders/3f2a…/pay)',
      },
      429: { description: 'Too many returns from this address', code: 'RATE_LIMITED', message: 'Too many PayPal returns from this address; retry later' },
      502: { description: 'PayPal failed or timed out; reloading the page retries', code: 'PAYMENT_PROVIDER_ERROR' },
      503: { description: 'PayPal is not configured', code: 'PAYMENT_PROVIDER_NOT_CONFIGURED' },
    },
    handler: ({ query, req, requestId }) =>
      landing(req, async () => answer(deps, req, await returnFromPayPal(paymentsOf(deps), query.token, { actor: { type: 'provider', id: 'paypal' }, requestId }))),
  });

  defineRoute(routes, {
    ...common,
    method: 'get',
    path: '/payments/paypal/cancel',
    summary: 'PayPal sends the buyer back here after cancelling: the order stays awaiting payment; redirects to PAYMENT_RESULT_URL, or shows a page',
    example: { query: { token: placeholder('paypalToken') }, headers: { accept: 'application/json' } },
    responses: {
      200: { description: 'Outcome "cancelled" (JSON, or a small HTML page for browsers) when PAYMENT_RESULT_URL is not set', schema: returnResponseSchema },
      303: { description: 'Redirect to PAYMENT_RESULT_URL?orderId=…&outcome=cancelled' },
      400: { description: 'No token', code: 'VALIDATION_FAILED', request: { query: {}, headers: { accept: 'application/json' } } },
      404: unknown,
      429: { description: 'Too many returns from this address', code: 'RATE_LIMITED', message: 'Too many PayPal returns from this address; retry later' },
      502: { description: 'PayPal failed or timed out', code: 'PAYMENT_PROVIDER_ERROR' },
      503: { description: 'PayPal is not configured', code: 'PAYMENT_PROVIDER_NOT_CONFIGURED' },
    },
    handler: ({ query, req }) => landing(req, async () => answer(deps, req, await cancelFromPayPal(paymentsOf(deps), query.token))),
  });
}

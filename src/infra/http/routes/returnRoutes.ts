import '../openapi';
import { z } from 'zod';
import { actorOf, asCaller } from '../../../commands/order/orderAccess';
import { approveReturn, receiveReturn, rejectReturn, requestReturn } from '../../../commands/payments/returns';
import { orderDtoSchema } from '../../../queries/orderQueries';
import { plainTextSchema } from '../../../queries/plainText';
import type { Deps } from '../../deps';
import { answerCommand, commandResponse, consistencyResponseHeaders, consistencySchema } from '../commandAnswer';
import { ifMatchRevision } from '../consistencyParams';
import { placeholder, UNKNOWN_ID, type ExampleRequest } from '../examples';
import { defineRoute, type RouteDeps } from '../route';
import { paymentsOf, STALE_IF_MATCH } from './paymentRoutes';

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });
const returnParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }), returnId: z.uuid().openapi({ description: 'Return id' }) });
const ifMatchHeaders = z.object({ 'if-match': z.string().optional().openapi({ description: 'Order revision last seen; 412 when stale' }) });

const requestReturnBodySchema = z
  .object({
    lines: z
      .array(z.object({ productId: z.uuid(), quantity: z.number().int().min(1).max(1000) }).strict())
      .min(1)
      .max(100),
    reason: plainTextSchema(500, 'reason'),
  })
  .strict()
  .openapi('ReturnRequest', { example: { lines: [{ productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', quantity: 1 }], reason: 'too small' } });
const rejectBodySchema = z
  .object({ reason: plainTextSchema(500, 'reason') })
  .strict()
  .openapi('ReturnRejectRequest', { example: { reason: 'worn' } });
const receiveBodySchema = z
  .object({ damaged: z.array(z.uuid()).max(100).optional().describe('Products that came back unfit to sell: refunded, not restocked') })
  .strict()
  .openapi('ReturnReceiveRequest', { example: { damaged: [] } });

const returnResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z
      .object({
        order: orderDtoSchema,
        position: z.string(),
        consistency: consistencySchema,
        returnId: z.uuid().optional().describe('POST /orders/:id/returns: the new return'),
        refund: z
          .object({
            refundId: z.uuid(),
            status: z.enum(['succeeded', 'pending', 'failed', 'awaiting_confirmation']),
            providerRefundId: z.string().optional(),
            failureReason: z.string().optional(),
          })
          .optional()
          .describe('receive: the refund of the returned lines'),
      })
      .passthrough(),
  })
  .openapi('ReturnResponse');

const stale = (example: ExampleRequest) => ({
  description: 'If-Match revision is stale',
  code: 'REVISION_MISMATCH',
  request: { ...example, headers: STALE_IF_MATCH },
});
const returnLines = (quantity: number) => ({ lines: [{ productId: placeholder('productId'), quantity }], reason: 'too small' });

const REQUESTED_RETURN = { id: placeholder('deliveredOrderId'), returnId: placeholder('returnId') };
const APPROVED_RETURN = { id: placeholder('deliveredOrderId'), returnId: placeholder('approvedReturnId') };

/** Returns of delivered lines: the owner requests, an admin approves or rejects, then receives (restock + refund). */
export function registerReturnRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'post',
    path: '/orders/:id/returns',
    summary: 'Request a return of delivered lines within RETURN_WINDOW_DAYS of delivery (owner)',
    tags: ['Returns'],
    access: 'user',
    params: orderIdParams,
    body: requestReturnBodySchema,
    headers: ifMatchHeaders,
    example: { params: { id: placeholder('deliveredOrderId') }, body: returnLines(1) },
    responses: {
      200: { description: 'Return requested', schema: returnResponseSchema, headers: consistencyResponseHeaders },
      400: {
        description: 'A line not in the order, or more than was ordered less other returns',
        code: 'ORDER_INVALID',
        request: { params: { id: placeholder('deliveredOrderId') }, body: returnLines(2) },
      },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body: returnLines(1) } },
      409: {
        description: 'Not delivered, or the return window has closed',
        code: 'RETURN_NOT_ALLOWED',
        request: { params: { id: placeholder('paidOrderId') }, body: returnLines(1) },
      },
      412: stale({ params: { id: placeholder('deliveredOrderId') }, body: returnLines(1) }),
    },
    handler: async ({ params, body, user, req, requestId }) => {
      const expectedRevision = ifMatchRevision(req);
      const { result, returnId } = await requestReturn(paymentsOf(deps), params.id, body, deps.config.RETURN_WINDOW_DAYS, {
        ...asCaller(user!, params.id, requestId),
        ...(expectedRevision !== undefined ? { expectedRevision } : {}),
      });
      return commandResponse(200, await answerCommand(deps, result), { returnId });
    },
  });

  const adminStep = (
    path: string,
    summary: string,
    body: z.ZodType | undefined,
    examples: { ok: ExampleRequest; wrongState: ExampleRequest },
    run: (args: {
      orderId: string;
      returnId: string;
      body: unknown;
      options: Parameters<typeof approveReturn>[3];
    }) => Promise<{ result: Awaited<ReturnType<typeof approveReturn>>; extra: Record<string, unknown> }>,
  ) => {
    defineRoute(routes, {
      method: 'post',
      path,
      summary,
      tags: ['Returns'],
      access: 'admin',
      params: returnParams,
      ...(body ? { body } : {}),
      headers: ifMatchHeaders,
      example: examples.ok,
      responses: {
        200: { description: 'Return updated', schema: returnResponseSchema, headers: consistencyResponseHeaders },
        404: {
          description: 'No such order or return',
          code: 'RETURN_NOT_FOUND',
          request: { ...examples.ok, params: { id: placeholder('deliveredOrderId'), returnId: UNKNOWN_ID } },
        },
        409: { description: 'The return is not in a state that allows this', code: 'RETURN_INVALID_TRANSITION', request: examples.wrongState },
        412: stale(examples.ok),
      },
      handler: async ({ params, body: parsed, user, req, requestId }) => {
        const expectedRevision = ifMatchRevision(req);
        const options = { context: { actor: actorOf(user!), requestId }, ...(expectedRevision !== undefined ? { expectedRevision } : {}) };
        const { result, extra } = await run({ orderId: params.id, returnId: params.returnId, body: parsed, options });
        return commandResponse(200, await answerCommand(deps, result), extra);
      },
    });
  };

  adminStep(
    '/orders/:id/returns/:returnId/approve',
    'Approve a requested return (admin)',
    undefined,
    { ok: { params: REQUESTED_RETURN }, wrongState: { params: { id: placeholder('deliveredOrderId'), returnId: placeholder('rejectedReturnId') } } },
    async ({ orderId, returnId, options }) => ({ result: await approveReturn(paymentsOf(deps), orderId, returnId, options), extra: {} }),
  );
  adminStep(
    '/orders/:id/returns/:returnId/reject',
    'Reject a requested return (admin)',
    rejectBodySchema,
    { ok: { params: REQUESTED_RETURN, body: { reason: 'worn' } }, wrongState: { params: APPROVED_RETURN, body: { reason: 'worn' } } },
    async ({ orderId, returnId, body, options }) => ({
      result: await rejectReturn(paymentsOf(deps), orderId, returnId, rejectBodySchema.parse(body).reason, options),
      extra: {},
    }),
  );
  adminStep(
    '/orders/:id/returns/:returnId/receive',
    'Record that the goods of an approved return arrived; their price is refunded through the provider that took the payment (admin)',
    receiveBodySchema,
    { ok: { params: APPROVED_RETURN, body: { damaged: [] } }, wrongState: { params: REQUESTED_RETURN, body: { damaged: [] } } },
    async ({ orderId, returnId, body, options }) => {
      const { result, refund } = await receiveReturn(paymentsOf(deps), orderId, returnId, receiveBodySchema.parse(body).damaged ?? [], options);
      return { result, extra: refund ? { refund } : {} };
    },
  );
}

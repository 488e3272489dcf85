import '../openapi';
import { z } from 'zod';
import { actorOf, asCaller } from '../../../commands/order/orderAccess';
import { handleOrderCommand } from '../../../commands/orderCommandHandler';
import { placeOrderAndStartPayment } from '../../../commands/placeOrder';
import type { OrderCommand } from '../../../commands/order/orderDecider';
import { OrderNotFoundError } from '../../../commands/order/orderErrors';
import { ValidationError } from '../../../errors';
import { emailSchema } from '../../../commands/accounts/users';
import { shippingAddressSchema, type OrderPersonalData } from '../../../commands/privacy/shippingAddress';
import { fulfilmentStatusSchema, paymentMethodSchema } from '../../../events/orderEvents';
import {
  getOrder,
  getOrderHistory,
  listOrders,
  listOrdersQuerySchema,
  orderDtoSchema,
  orderHistoryEntrySchema,
  orderListSchema,
} from '../../../queries/orderQueries';
import { plainTextSchema } from '../../../queries/plainText';
import type { Deps } from '../../deps';
import type { AuthUser } from '../authTokens';
import { answerCommand, commandResponse, consistencyResponseHeaders, consistencySchema } from '../commandAnswer';
import { ifMatchRevision, minPositionHeaders, minPositionQuery, waitForRequestedPosition } from '../consistencyParams';
import { defineRoute, type RouteDeps } from '../route';
import { paymentSessionFields, paymentsOf } from './paymentRoutes';

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });

const placeOrderBodySchema = z
  .object({
    items: z
      .array(z.object({ productId: z.uuid(), quantity: z.number().int().min(1).max(1000) }).strict())
      .min(1, 'items must not be empty')
      .max(100),
    paymentMethod: paymentMethodSchema,
    paymentFlow: z.literal('REGULAR').optional(),
    shippingAddress: shippingAddressSchema.optional().openapi({ description: "Where the goods go; default: the profile's default address" }),
    contactEmail: emailSchema.optional().openapi({ description: "Where the order's emails go; default: the account's email" }),
  })
  .strict()
  .openapi('PlaceOrderRequest');

export const orderCommandResponseSchema = z
  .object({
    status: z.literal('success'),
    data: z
      .object({
        order: orderDtoSchema,
        position: z.string().describe('Global position of the last event this command appended'),
        consistency: consistencySchema,
        clientSecret: z.string().optional().describe('POST /orders with STRIPE: the PaymentIntent client secret for Stripe.js'),
        paymentUrl: z.string().optional().describe('POST /orders with PAYPAL: where the buyer approves the payment'),
      })
      .passthrough(),
  })
  .openapi('OrderCommandResponse');

const orderResponseSchema = z.object({ status: z.literal('success'), data: orderDtoSchema }).openapi('OrderResponse');
const historyResponseSchema = z
  .object({ status: z.literal('success'), data: z.array(orderHistoryEntrySchema) })
  .openapi('OrderHistoryResponse');

const changeStatusBodySchema = z.object({ status: fulfilmentStatusSchema }).strict().openapi('ChangeOrderStatusRequest');
const cancelBodySchema = z.object({ reason: plainTextSchema(500, 'reason').optional() }).strict().openapi('CancelOrderRequest');
// Nothing to set: amount and currency come from the order, so any field is refused rather than ignored.
const markPaidBodySchema = z.object({}).strict().openapi('MarkPaidRequest');
const ifMatchHeaders = z.object({ 'if-match': z.string().optional().openapi({ description: 'Order revision last seen; 412 when stale' }) });
const idempotencyHeaders = z.object({
  'idempotency-key': z.string().min(1).max(255).optional().openapi({ description: 'Same key and body return the same order' }),
});

function personalDataOf(body: { shippingAddress?: OrderPersonalData['shippingAddress']; contactEmail?: string }): { personalData?: OrderPersonalData } {
  if (!body.shippingAddress && !body.contactEmail) return {};
  return {
    personalData: { ...(body.shippingAddress ? { shippingAddress: body.shippingAddress } : {}), ...(body.contactEmail ? { contactEmail: body.contactEmail } : {}) },
  };
}

export function registerOrderRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'post',
    path: '/orders',
    summary: 'Place an order (prices from the catalog); answers once the read model shows it',
    tags: ['Orders'],
    access: 'user',
    body: placeOrderBodySchema,
    headers: idempotencyHeaders,
    responses: {
      201: { description: 'Order placed', schema: orderCommandResponseSchema, headers: consistencyResponseHeaders },
      409: { description: 'Idempotency-Key reused with another body' },
      503: { description: 'Payment provider not configured' },
    },
    handler: async ({ body, user, req, requestId }) => {
      const key = req.header('idempotency-key');
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw new ValidationError('Idempotency-Key must be 1 to 255 characters', undefined, 'INVALID_IDEMPOTENCY_KEY');
      }
      const { result, session } = await placeOrderAndStartPayment(
        { knex: deps.knex, store: deps.store, logger: deps.logger, dataKeys: deps.dataKeys, payments: paymentsOf(deps) },
        {
          userId: user!.id,
          items: body.items,
          paymentMethod: body.paymentMethod,
          ...personalDataOf(body),
          idempotencyKey: key,
          body,
          now: deps.clock().toISOString(),
          context: { actor: actorOf(user!), requestId },
        },
      );
      return commandResponse(201, await answerCommand(deps, result), paymentSessionFields(session));
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/orders',
    summary: 'List orders, newest first (users see their own; admins see all and may filter by userId)',
    tags: ['Orders'],
    access: 'user',
    query: listOrdersQuerySchema.extend(minPositionQuery),
    headers: minPositionHeaders,
    responses: { 200: { description: 'A page of orders', schema: orderListSchema }, 503: { description: 'Read model did not reach minPosition in time' } },
    handler: async ({ query, user, req }) => {
      const { minPosition, ...listQuery } = query;
      await waitForRequestedPosition(deps, req, minPosition);
      const scope = user!.role === 'admin' ? {} : { userId: user!.id };
      return { status: 200, body: await listOrders(deps.knex, listQuery, scope, deps.dataKeys) };
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/orders/:id',
    summary: 'Get one order (owner or admin); ETag carries its revision',
    tags: ['Orders'],
    access: 'user',
    params: orderIdParams,
    query: z.object(minPositionQuery).strict(),
    headers: minPositionHeaders,
    responses: { 200: { description: 'The order', schema: orderResponseSchema }, 404: { description: 'No such order for this user' } },
    handler: async ({ params, query, user, req }) => {
      await waitForRequestedPosition(deps, req, query.minPosition);
      const order = await getOrder(deps.knex, params.id, user!.role === 'admin' ? {} : { userId: user!.id }, deps.dataKeys);
      if (!order) throw new OrderNotFoundError(params.id);
      return { status: 200, body: { status: 'success', data: order }, headers: { ETag: `"${order.revision}"` } };
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/orders/:id/history',
    summary: "An order's transitions, oldest first (owner or admin)",
    tags: ['Orders'],
    access: 'user',
    params: orderIdParams,
    query: z.object(minPositionQuery).strict(),
    headers: minPositionHeaders,
    responses: { 200: { description: 'The history', schema: historyResponseSchema }, 404: { description: 'No such order for this user' } },
    handler: async ({ params, query, user, req }) => {
      await waitForRequestedPosition(deps, req, query.minPosition);
      const history = await getOrderHistory(deps.knex, params.id, user!.role === 'admin' ? {} : { userId: user!.id });
      if (!history) throw new OrderNotFoundError(params.id);
      return { status: 200, body: { status: 'success', data: history } };
    },
  });

  const commandRoute = (
    path: string,
    summary: string,
    access: 'user' | 'admin',
    body: z.ZodObject | undefined,
    toCommand: (body: Record<string, unknown>, user: AuthUser, now: string) => OrderCommand,
  ): void => {
    defineRoute(routes, {
      method: path.endsWith('/status') ? 'patch' : 'post',
      path,
      summary,
      tags: ['Orders'],
      access,
      params: orderIdParams,
      ...(body ? { body } : {}),
      headers: ifMatchHeaders,
      responses: {
        200: { description: 'Command applied', schema: orderCommandResponseSchema, headers: consistencyResponseHeaders },
        404: { description: 'No such order for this user' },
        409: { description: 'Illegal transition (names both states)' },
        412: { description: 'If-Match revision is stale' },
      },
      handler: async ({ params, body: parsed, user, req, requestId }) => {
        const expectedRevision = ifMatchRevision(req);
        const command = toCommand((parsed ?? {}) as Record<string, unknown>, user!, deps.clock().toISOString());
        const result = await handleOrderCommand(deps.store, params.id, command, {
          ...(expectedRevision !== undefined ? { expectedRevision } : {}),
          ...asCaller(user!, params.id, requestId),
        });
        return commandResponse(200, await answerCommand(deps, result));
      },
    });
  };

  commandRoute('/orders/:id/status', 'Move a paid order through fulfilment (admin)', 'admin', changeStatusBodySchema, (body, _user, now) => ({
    type: 'ChangeStatus',
    data: { to: changeStatusBodySchema.parse(body).status, now },
  }));
  commandRoute('/orders/:id/cancel', 'Cancel an order (owner while unpaid; admin also when paid)', 'user', cancelBodySchema, (body, user, now) => {
    const { reason } = cancelBodySchema.parse(body);
    return { type: 'CancelOrder', data: { by: user.role === 'admin' ? 'admin' : 'user', ...(reason ? { reason } : {}), now } };
  });
  commandRoute('/orders/:id/mark-paid', 'Confirm an offline (MANUAL) payment (admin)', 'admin', markPaidBodySchema, (_body, _user, now) => ({
    type: 'MarkPaid',
    data: { now },
  }));
}

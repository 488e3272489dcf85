import '../openapi';
import { z } from 'zod';
import { actorOf, asCaller } from '../../../commands/order/orderAccess';
import { handleOrderCommand, type HandleResult } from '../../../commands/orderCommandHandler';
import { cancelPaymentAfterCancellation } from '../../../commands/payments/cancelPayment';
import { placeOrderAndStartPayment } from '../../../commands/placeOrder';
import { ProductLocks } from '../../../commands/stock/productLocks';
import type { OrderCommand } from '../../../commands/order/orderDecider';
import { OrderNotFoundError } from '../../../commands/order/orderErrors';
import { ValidationError } from '../../../errors';
import { emailSchema } from '../../../commands/accounts/users';
import { shippingAddressSchema, type OrderPersonalData } from '../../../commands/privacy/shippingAddress';
import { fulfilmentStatusSchema, paymentMethodSchema } from '../../../events/orderEvents';
import { getOrder, getOrderHistory, listOrders, listOrdersQuerySchema, orderDtoSchema, orderHistoryEntrySchema, orderListSchema } from '../../../queries/orderQueries';
import { plainTextSchema } from '../../../queries/plainText';
import type { Deps } from '../../deps';
import type { AuthUser } from '../authTokens';
import { answerCommand, commandResponse, consistencyResponseHeaders, consistencySchema } from '../commandAnswer';
import { ifMatchRevision, minPositionHeaders, minPositionQuery, waitForRequestedPosition } from '../consistencyParams';
import { placeholder, UNKNOWN_ID, type ExampleRequest } from '../examples';
import { defineRoute, type RouteDeps } from '../route';
import { paymentSessionFields, paymentsOf } from './paymentRoutes';

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });

// Clients of the seed send { title, price, quantity }: naming the unknown keys alone leaves them
// stuck, so say where items and prices come from instead.
const SEED_ITEM_KEYS = new Set(['title', 'price']);
const orderItemSchema = z.strictObject(
  { productId: z.uuid(), quantity: z.number().int().min(1).max(1000) },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' && issue.keys.some((key) => SEED_ITEM_KEYS.has(key))
        ? `Unrecognized keys: ${issue.keys.map((key) => `"${key}"`).join(', ')}; an item is { productId, quantity } and the price comes from the catalog: take productId from GET /products`
        : undefined,
  },
);

const placeOrderBodySchema = z
  .object({
    items: z.array(orderItemSchema).min(1, 'items must not be empty').max(100),
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
const historyResponseSchema = z.object({ status: z.literal('success'), data: z.array(orderHistoryEntrySchema) }).openapi('OrderHistoryResponse');

const changeStatusBodySchema = z.object({ status: fulfilmentStatusSchema }).strict().openapi('ChangeOrderStatusRequest');
const cancelBodySchema = z
  .object({ reason: plainTextSchema(500, 'reason').optional() })
  .strict()
  .openapi('CancelOrderRequest');
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
  // One per process: buyers of a tracked product here take turns rather than race for its stream.
  const productLocks = new ProductLocks();
  defineRoute(routes, {
    method: 'post',
    path: '/orders',
    summary: 'Place an order (prices from the catalog); answers once the read model shows it',
    tags: ['Orders'],
    access: 'user',
    body: placeOrderBodySchema,
    headers: idempotencyHeaders,
    example: {
      body: {
        items: [{ productId: placeholder('productId'), quantity: 2 }],
        paymentMethod: 'MANUAL',
        shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
      },
    },
    responses: {
      201: { description: 'Order placed', schema: orderCommandResponseSchema, headers: consistencyResponseHeaders },
      400: { description: 'No items, a quantity out of range, or an unknown payment method', code: 'VALIDATION_FAILED', request: { body: { items: [], paymentMethod: 'MANUAL' } } },
      409: {
        description:
          'OUT_OF_STOCK: not enough stock for one or more lines (details.products names each with requested and available; nothing stored); or IDEMPOTENCY_KEY_REUSED: the Idempotency-Key came with another body',
        code: 'OUT_OF_STOCK',
        message: 'Not enough stock: 2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13 (requested 3, available 1)',
      },
      503: {
        description: 'Payment provider not configured',
        code: 'PAYMENT_PROVIDER_NOT_CONFIGURED',
        // The examples run against a server with PayPal's keys and without Stripe's.
        request: { body: { items: [{ productId: placeholder('productId'), quantity: 1 }], paymentMethod: 'STRIPE' } },
      },
    },
    handler: async ({ body, user, req, requestId }) => {
      const key = req.header('idempotency-key');
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw new ValidationError('Idempotency-Key must be 1 to 255 characters', undefined, 'INVALID_IDEMPOTENCY_KEY');
      }
      const { result, session } = await placeOrderAndStartPayment(
        { knex: deps.knex, store: deps.store, logger: deps.logger, dataKeys: deps.dataKeys, payments: paymentsOf(deps), productLocks },
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
    example: { query: { page: '1', limit: '20' } },
    responses: {
      200: { description: 'A page of orders', schema: orderListSchema },
      400: { description: 'A filter out of range', code: 'VALIDATION_FAILED', request: { query: { status: 'LOST' } } },
      503: { description: 'Read model did not reach minPosition in time', code: 'CONSISTENCY_TIMEOUT' },
    },
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
    example: { params: { id: placeholder('orderId') } },
    responses: {
      200: { description: 'The order', schema: orderResponseSchema },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
    },
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
    example: { params: { id: placeholder('orderId') } },
    responses: {
      200: { description: 'The history', schema: historyResponseSchema },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
    },
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
    examples: { ok: ExampleRequest; illegal: ExampleRequest & { message: string } },
    toCommand: (body: Record<string, unknown>, user: AuthUser, now: string) => OrderCommand,
    afterwards?: (result: HandleResult) => Promise<void>,
  ): void => {
    const { message: illegalMessage, ...illegal } = examples.illegal;
    defineRoute(routes, {
      method: path.endsWith('/status') ? 'patch' : 'post',
      path,
      summary,
      tags: ['Orders'],
      access,
      params: orderIdParams,
      ...(body ? { body } : {}),
      headers: ifMatchHeaders,
      example: examples.ok,
      responses: {
        200: { description: 'Command applied', schema: orderCommandResponseSchema, headers: consistencyResponseHeaders },
        404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { ...examples.ok, params: { id: UNKNOWN_ID } } },
        409: { description: 'Illegal transition (names both states)', code: 'ORDER_INVALID_TRANSITION', message: illegalMessage, request: illegal },
        412: {
          description: 'If-Match revision is stale',
          code: 'REVISION_MISMATCH',
          request: { ...examples.ok, headers: { ...examples.ok.headers, 'if-match': '"99"' } },
        },
      },
      handler: async ({ params, body: parsed, user, req, requestId }) => {
        const expectedRevision = ifMatchRevision(req);
        const command = toCommand(parsed ?? {}, user!, deps.clock().toISOString());
        const result = await handleOrderCommand(deps.store, params.id, command, {
          ...(expectedRevision !== undefined ? { expectedRevision } : {}),
          ...asCaller(user!, params.id, requestId),
        });
        await afterwards?.(result);
        return commandResponse(200, await answerCommand(deps, result));
      },
    });
  };

  commandRoute(
    '/orders/:id/status',
    'Move a paid order through fulfilment (admin)',
    'admin',
    changeStatusBodySchema,
    {
      ok: { params: { id: placeholder('paidOrderId') }, body: { status: 'PROCESSING' } },
      illegal: { params: { id: placeholder('orderId') }, body: { status: 'PROCESSING' }, message: 'PENDING → PROCESSING is not allowed; mark the order paid first' },
    },
    (body, _user, now) => ({
      type: 'ChangeStatus',
      data: { to: changeStatusBodySchema.parse(body).status, now },
    }),
  );
  commandRoute(
    '/orders/:id/cancel',
    'Cancel an order (owner while unpaid; admin also when paid)',
    'user',
    cancelBodySchema,
    {
      ok: { params: { id: placeholder('orderId') }, body: { reason: 'changed my mind' } },
      illegal: { params: { id: placeholder('paidOrderId') }, body: { reason: 'changed my mind' }, message: 'A paid order can only be cancelled by an admin' },
    },
    (body, user, now) => {
      const { reason } = cancelBodySchema.parse(body);
      return { type: 'CancelOrder', data: { by: user.role === 'admin' ? 'admin' : 'user', ...(reason ? { reason } : {}), now } };
    },
    (result) => cancelPaymentAfterCancellation(deps.payments, result, deps.logger),
  );
  commandRoute(
    '/orders/:id/mark-paid',
    'Confirm an offline (MANUAL) payment (admin)',
    'admin',
    markPaidBodySchema,
    {
      ok: { params: { id: placeholder('orderId') }, body: {} },
      illegal: { params: { id: placeholder('paidOrderId') }, body: {}, message: 'PAID → PAID is not allowed' },
    },
    (_body, _user, now) => ({
      type: 'MarkPaid',
      data: { now },
    }),
  );
}

import '../openapi';
import { z } from 'zod';
import { getProduct, listProducts, listProductsQuerySchema, productDtoSchema, productListSchema, ProductNotFoundError } from '../../../queries/products';
import { createProduct, createProductSchema, updateProduct, updateProductSchema } from '../../../commands/products';
import { adjustStock, adjustStockSchema, receiveStock, receiveStockSchema, stockDtoSchema } from '../../../commands/stock/stockAdmin';
import { actorOf } from '../../../commands/order/orderAccess';
import type { Deps } from '../../deps';
import { ForbiddenError, type AuthUser } from '../authTokens';
import { placeholder, UNKNOWN_ID } from '../examples';
import { minPositionHeaders, minPositionQuery, waitForRequestedPosition } from '../consistencyParams';
import { defineRoute, type RouteDeps } from '../route';

const productIdParams = z.object({ id: z.uuid().openapi({ description: 'Product id' }) });
const productResponseSchema = z.object({ status: z.literal('success'), data: productDtoSchema }).openapi('ProductResponse');

const stockResponseSchema = z.object({ status: z.literal('success'), data: stockDtoSchema }).openapi('StockResponse', {
  example: {
    status: 'success',
    data: { productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13', onHand: 120, reserved: 3, available: 117, position: '4398046511104' },
  },
});

const productNotFound = (body: unknown) => ({ description: 'No such product', code: 'PRODUCT_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body } });

const isAdmin = (user: AuthUser | undefined): boolean => user?.role === 'admin';

export function registerProductRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'get',
    path: '/products',
    summary: 'List the catalog, newest first (public; admins may include inactive products)',
    tags: ['Products'],
    access: 'optional',
    query: listProductsQuerySchema.extend(minPositionQuery),
    headers: minPositionHeaders,
    example: { query: { page: '1', limit: '20' } },
    responses: {
      200: { description: 'A page of products', schema: productListSchema.openapi('ProductList') },
      400: { description: 'A page or limit out of range', code: 'VALIDATION_FAILED', request: { query: { page: '0' } } },
      403: {
        description: 'includeInactive without an admin token',
        code: 'FORBIDDEN',
        message: 'Only an admin can list inactive products',
        request: { query: { includeInactive: 'true' } },
      },
      503: { description: 'Read model did not reach minPosition in time', code: 'CONSISTENCY_TIMEOUT' },
    },
    handler: async ({ query, user, req }) => {
      const { minPosition, ...listQuery } = query;
      if (listQuery.includeInactive && !isAdmin(user)) throw new ForbiddenError('Only an admin can list inactive products');
      await waitForRequestedPosition(deps, req, minPosition);
      return { status: 200, body: await listProducts(deps.knex, listQuery, { includeInactive: listQuery.includeInactive }) };
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/products/:id',
    summary: 'Get one product (inactive ones only for admins)',
    tags: ['Products'],
    access: 'optional',
    params: productIdParams,
    query: z.object(minPositionQuery).strict(),
    headers: minPositionHeaders,
    example: { params: { id: placeholder('productId') } },
    responses: {
      200: { description: 'The product', schema: productResponseSchema },
      404: { description: 'No such product', code: 'PRODUCT_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
      503: { description: 'Read model did not reach minPosition in time', code: 'CONSISTENCY_TIMEOUT' },
    },
    handler: async ({ params, query, user, req }) => {
      await waitForRequestedPosition(deps, req, query.minPosition);
      const product = await getProduct(deps.knex, params.id, { includeInactive: isAdmin(user) });
      if (!product) throw new ProductNotFoundError(params.id);
      return { status: 200, body: { status: 'success', data: product } };
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/products',
    summary: 'Add a product to the catalog (admin); unitAmount in minor units',
    tags: ['Products'],
    access: 'admin',
    body: createProductSchema.openapi('CreateProductRequest'),
    // A product the demo catalog lacks, so adding it works after `order-ledger demo`.
    example: { body: { sku: 'GRINDER-HAND', name: 'Hand coffee grinder', unitAmount: 5900, currency: 'EUR' } },
    responses: {
      201: { description: 'Product created', schema: productResponseSchema },
      400: {
        description: 'A field out of range (amounts are integer minor units)',
        code: 'VALIDATION_FAILED',
        request: { body: { sku: 'GRINDER-ELECTRIC', name: 'Electric grinder', unitAmount: 129.9, currency: 'EUR' } },
      },
      409: {
        description: 'sku already used',
        code: 'PRODUCT_SKU_TAKEN',
        request: { body: { sku: 'ESP-BEANS-1KG', name: 'Espresso beans, 1 kg', unitAmount: 2490, currency: 'EUR' } },
      },
    },
    handler: async ({ body }) => ({ status: 201, body: { status: 'success', data: await createProduct(deps.knex, body, deps.clock()) } }),
  });

  defineRoute(routes, {
    method: 'patch',
    path: '/products/:id',
    summary: 'Rename, reprice or (de)activate a product (admin); placed orders keep their prices',
    tags: ['Products'],
    access: 'admin',
    params: productIdParams,
    body: updateProductSchema.openapi('UpdateProductRequest'),
    example: { params: { id: placeholder('productId') }, body: { unitAmount: 2590 } },
    responses: {
      200: { description: 'Product updated', schema: productResponseSchema },
      404: { description: 'No such product', code: 'PRODUCT_NOT_FOUND', request: { params: { id: UNKNOWN_ID }, body: { unitAmount: 2590 } } },
    },
    handler: async ({ params, body }) => ({
      status: 200,
      body: { status: 'success', data: await updateProduct(deps.knex, params.id, body, deps.clock()) },
    }),
  });

  defineRoute(routes, {
    method: 'post',
    path: '/products/:id/stock/receive',
    summary: 'Record units received into stock (admin); the first receipt starts tracking the product',
    tags: ['Products'],
    access: 'admin',
    params: productIdParams,
    body: receiveStockSchema.openapi('ReceiveStockRequest'),
    example: { params: { id: placeholder('stockProductId') }, body: { quantity: 24 } },
    responses: {
      200: { description: 'Stock after the receipt', schema: stockResponseSchema },
      400: { description: 'A quantity below 1 or not an integer', code: 'VALIDATION_FAILED', request: { params: { id: placeholder('stockProductId') }, body: { quantity: 0 } } },
      404: productNotFound({ quantity: 24 }),
    },
    handler: async ({ params, body, user, requestId }) => ({
      status: 200,
      body: {
        status: 'success',
        data: await receiveStock(deps, params.id, body, deps.clock().toISOString(), { actor: actorOf(user!), requestId }),
      },
    }),
  });

  defineRoute(routes, {
    method: 'post',
    path: '/products/:id/stock/adjust',
    summary: 'Correct on hand by delta with a reason (admin); never below zero or below what orders hold',
    tags: ['Products'],
    access: 'admin',
    params: productIdParams,
    body: adjustStockSchema.openapi('AdjustStockRequest'),
    example: { params: { id: placeholder('stockProductId') }, body: { delta: -2, reason: 'two bags torn in the warehouse' } },
    responses: {
      200: { description: 'Stock after the adjustment', schema: stockResponseSchema },
      400: {
        description: 'A delta of 0 or a missing reason',
        code: 'VALIDATION_FAILED',
        request: { params: { id: placeholder('stockProductId') }, body: { delta: 0, reason: 'nothing' } },
      },
      404: productNotFound({ delta: -2, reason: 'two bags torn in the warehouse' }),
      409: {
        description: 'The adjustment would leave on hand negative or below what is reserved (details: productId, onHand, reserved, delta)',
        code: 'STOCK_ADJUSTMENT_REFUSED',
        message: 'Adjusting 2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13 by -100000 would leave -99978 on hand with 0 reserved',
        request: { params: { id: placeholder('stockProductId') }, body: { delta: -100000, reason: 'count them again' } },
      },
    },
    handler: async ({ params, body, user, requestId }) => ({
      status: 200,
      body: {
        status: 'success',
        data: await adjustStock(deps, params.id, body, deps.clock().toISOString(), { actor: actorOf(user!), requestId }),
      },
    }),
  });
}

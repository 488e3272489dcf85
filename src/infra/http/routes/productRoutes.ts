import '../openapi';
import { z } from 'zod';
import {
  getProduct,
  listProducts,
  listProductsQuerySchema,
  productDtoSchema,
  productListSchema,
  ProductNotFoundError,
} from '../../../queries/products';
import { createProduct, createProductSchema, updateProduct, updateProductSchema } from '../../../commands/products';
import { adjustStock, adjustStockSchema, receiveStock, receiveStockSchema, stockDtoSchema } from '../../../commands/stock/stockAdmin';
import { actorOf } from '../../../commands/order/orderAccess';
import type { Deps } from '../../deps';
import { errorResponseSchema } from '../openapi';
import { ForbiddenError, type AuthUser } from '../authTokens';
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

const errorExample = (code: string, message: string, details?: unknown) => ({
  schema: errorResponseSchema,
  example: { status: 'error', error: { code, message, ...(details === undefined ? {} : { details }) } },
});

const productNotFound = { description: 'No such product', ...errorExample('PRODUCT_NOT_FOUND', 'Product 2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13 not found') };
const invalidStockBody = (message: string) => ({ description: 'Invalid body', ...errorExample('VALIDATION_FAILED', message) });

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
    responses: {
      200: { description: 'A page of products', schema: productListSchema.openapi('ProductList') },
      403: { description: 'includeInactive without an admin token' },
      503: { description: 'Read model did not reach minPosition in time' },
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
    responses: {
      200: { description: 'The product', schema: productResponseSchema },
      404: { description: 'No such product' },
      503: { description: 'Read model did not reach minPosition in time' },
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
    responses: { 201: { description: 'Product created', schema: productResponseSchema }, 409: { description: 'sku already used' } },
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
    responses: { 200: { description: 'Product updated', schema: productResponseSchema }, 404: { description: 'No such product' } },
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
    body: receiveStockSchema.openapi('ReceiveStockRequest', { example: { quantity: 24 } }),
    responses: {
      200: { description: 'Stock after the receipt', schema: stockResponseSchema },
      400: invalidStockBody('Invalid body: quantity Too small: expected number to be >=1'),
      404: productNotFound,
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
    body: adjustStockSchema.openapi('AdjustStockRequest', { example: { delta: -2, reason: 'two mugs broken in the warehouse' } }),
    responses: {
      200: { description: 'Stock after the adjustment', schema: stockResponseSchema },
      400: invalidStockBody('Invalid body: delta must not be 0'),
      404: productNotFound,
      409: {
        description: 'The adjustment would leave on hand negative or below what is reserved',
        ...errorExample('STOCK_ADJUSTMENT_REFUSED', 'Adjusting 2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13 by -10 would leave 2 on hand with 3 reserved', {
          productId: '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13',
          onHand: 12,
          reserved: 3,
          delta: -10,
        }),
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

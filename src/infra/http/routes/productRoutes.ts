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
import type { Deps } from '../../deps';
import { ForbiddenError, type AuthUser } from '../authTokens';
import { placeholder, UNKNOWN_ID } from '../examples';
import { defineRoute, type RouteDeps } from '../route';

const productIdParams = z.object({ id: z.uuid().openapi({ description: 'Product id' }) });
const productResponseSchema = z.object({ status: z.literal('success'), data: productDtoSchema }).openapi('ProductResponse');

const isAdmin = (user: AuthUser | undefined): boolean => user?.role === 'admin';

export function registerProductRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'get',
    path: '/products',
    summary: 'List the catalog, newest first (public; admins may include inactive products)',
    tags: ['Products'],
    access: 'optional',
    query: listProductsQuerySchema,
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
    },
    handler: async ({ query, user }) => {
      if (query.includeInactive && !isAdmin(user)) throw new ForbiddenError('Only an admin can list inactive products');
      return { status: 200, body: await listProducts(deps.knex, query, { includeInactive: query.includeInactive }) };
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/products/:id',
    summary: 'Get one product (inactive ones only for admins)',
    tags: ['Products'],
    access: 'optional',
    params: productIdParams,
    example: { params: { id: placeholder('productId') } },
    responses: {
      200: { description: 'The product', schema: productResponseSchema },
      404: { description: 'No such product', code: 'PRODUCT_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
    },
    handler: async ({ params, user }) => {
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
      409: { description: 'sku already used', code: 'PRODUCT_SKU_TAKEN', request: { body: { sku: 'ESP-BEANS-1KG', name: 'Espresso beans, 1 kg', unitAmount: 2490, currency: 'EUR' } } },
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
}

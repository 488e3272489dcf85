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
    responses: { 200: { description: 'A page of products', schema: productListSchema.openapi('ProductList') }, 403: { description: 'includeInactive without an admin token' } },
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
    responses: { 200: { description: 'The product', schema: productResponseSchema }, 404: { description: 'No such product' } },
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
}

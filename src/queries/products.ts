import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConflictError, NotFoundError } from '../errors';
import { isoCurrencySchema, minorUnitsSchema } from '../events/valueSchemas';
import { MAX_PAGE_LIMIT } from './orderQueries';
import { plainTextSchema } from './plainText';

export const productDtoSchema = z
  .object({
    id: z.uuid(),
    sku: z.string(),
    name: z.string(),
    unitAmount: z.number().int().describe('Price in minor units of the currency (cents for USD)'),
    currency: z.string().describe('ISO 4217 code, upper case'),
    active: z.boolean().describe('Inactive products cannot be ordered and are hidden from the public catalog'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  });
export type ProductDto = z.infer<typeof productDtoSchema>;

export const listProductsQuerySchema = z
  .object({
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}`).default(20),
    includeInactive: z
      .enum(['true', 'false'])
      .optional()
      .transform((v) => v === 'true')
      .describe('Admins only: list inactive products too'),
  })
  .strict();
export type ListProductsQuery = z.infer<typeof listProductsQuerySchema>;

export const productListSchema = z
  .object({
    status: z.literal('success'),
    data: z.array(productDtoSchema),
    meta: z.object({ total: z.number().int(), page: z.number().int(), limit: z.number().int() }),
  });
export type ProductList = z.infer<typeof productListSchema>;

const skuSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'sku may contain letters, digits, ".", "_" and "-"');
const productNameSchema = plainTextSchema(200, 'name');

export const createProductSchema = z
  .object({ sku: skuSchema, name: productNameSchema, unitAmount: minorUnitsSchema, currency: isoCurrencySchema })
  .strict();
export type CreateProduct = z.infer<typeof createProductSchema>;

export const updateProductSchema = z
  .object({ name: productNameSchema.optional(), unitAmount: minorUnitsSchema.optional(), active: z.boolean().optional() })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'at least one of name, unitAmount, active is required');
export type UpdateProduct = z.infer<typeof updateProductSchema>;

export class ProductNotFoundError extends NotFoundError {
  constructor(productId: string) {
    super('PRODUCT_NOT_FOUND', `Product ${productId} not found`);
  }
}

export class SkuTakenError extends ConflictError {
  constructor(sku: string) {
    super('PRODUCT_SKU_TAKEN', `A product with sku ${sku} already exists`, { sku });
  }
}

interface ProductRow {
  id: string;
  sku: string;
  name: string;
  unit_amount: string;
  currency: string;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

function toProductDto(row: ProductRow): ProductDto {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    unitAmount: Number(row.unit_amount),
    currency: row.currency,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface ProductScope {
  /** Public callers see only products that can be ordered. */
  includeInactive: boolean;
}

/** Newest first. */
export async function listProducts(knex: Knex, query: { page: number; limit: number }, scope: ProductScope): Promise<ProductList> {
  const filtered = (): Knex.QueryBuilder => (scope.includeInactive ? knex('products') : knex('products').where('active', true));
  const [rows, countRow] = await Promise.all([
    filtered()
      .select('*')
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(query.limit)
      .offset((query.page - 1) * query.limit) as Promise<ProductRow[]>,
    filtered().count<{ count: string }[]>({ count: '*' }).first() as Promise<{ count: string } | undefined>,
  ]);
  return { status: 'success', data: rows.map(toProductDto), meta: { total: Number(countRow?.count ?? 0), page: query.page, limit: query.limit } };
}

export async function getProduct(knex: Knex, productId: string, scope: ProductScope): Promise<ProductDto | undefined> {
  const q = knex('products').where('id', productId);
  if (!scope.includeInactive) q.where('active', true);
  const row = (await q.first()) as ProductRow | undefined;
  return row ? toProductDto(row) : undefined;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

export async function createProduct(knex: Knex, input: CreateProduct, now: Date): Promise<ProductDto> {
  try {
    const [row] = (await knex('products')
      .insert({
        id: randomUUID(),
        sku: input.sku,
        name: input.name,
        unit_amount: input.unitAmount,
        currency: input.currency,
        active: true,
        created_at: now,
        updated_at: now,
      })
      .returning('*')) as ProductRow[];
    return toProductDto(row!);
  } catch (error) {
    if (isUniqueViolation(error)) throw new SkuTakenError(input.sku);
    throw error;
  }
}

/** Price changes apply to orders placed afterwards; placed orders keep the price they were placed at. */
export async function updateProduct(knex: Knex, productId: string, patch: UpdateProduct, now: Date): Promise<ProductDto> {
  const changes: Record<string, unknown> = { updated_at: now };
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.unitAmount !== undefined) changes.unit_amount = patch.unitAmount;
  if (patch.active !== undefined) changes.active = patch.active;
  const [row] = (await knex('products').where('id', productId).update(changes).returning('*')) as ProductRow[];
  if (!row) throw new ProductNotFoundError(productId);
  return toProductDto(row);
}

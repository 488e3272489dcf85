import type { Knex } from 'knex';
import { z } from 'zod';
import { NotFoundError } from '../errors';
import { MAX_PAGE_LIMIT } from './orderQueries';

export const productDtoSchema = z.object({
  id: z.uuid(),
  sku: z.string(),
  name: z.string(),
  unitAmount: z.number().int().describe('Price in minor units of the currency (cents for USD)'),
  currency: z.string().describe('ISO 4217 code, upper case'),
  active: z.boolean().describe('Inactive products cannot be ordered and are hidden from the public catalog'),
  onHand: z.number().int().nullable().describe('Units in stock; null when the product is untracked (unlimited)'),
  reserved: z.number().int().nullable().describe('Units held by orders awaiting payment; null when untracked'),
  available: z.number().int().nullable().describe('onHand − reserved: what can be ordered now; null when untracked'),
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

export const productListSchema = z.object({
  status: z.literal('success'),
  data: z.array(productDtoSchema),
  meta: z.object({ total: z.number().int(), page: z.number().int(), limit: z.number().int() }),
});
export type ProductList = z.infer<typeof productListSchema>;

export class ProductNotFoundError extends NotFoundError {
  constructor(productId: string) {
    super('PRODUCT_NOT_FOUND', `Product ${productId} not found`);
  }
}

export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  unit_amount: string;
  currency: string;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  /** From product_stock (left join): null when the product is untracked. */
  on_hand?: string | null;
  reserved?: string | null;
}

function stockOf(row: ProductRow): Pick<ProductDto, 'onHand' | 'reserved' | 'available'> {
  if (row.on_hand === null || row.on_hand === undefined || row.reserved === null || row.reserved === undefined) {
    return { onHand: null, reserved: null, available: null };
  }
  const onHand = Number(row.on_hand);
  const reserved = Number(row.reserved);
  return { onHand, reserved, available: onHand - reserved };
}

/** Products with their stock columns (the stock read model; no row = untracked). */
export function productsWithStock(knex: Knex): Knex.QueryBuilder {
  return knex('products').leftJoin('product_stock', 'product_stock.product_id', 'products.id').select('products.*', 'product_stock.on_hand', 'product_stock.reserved');
}

export function toProductDto(row: ProductRow): ProductDto {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    unitAmount: Number(row.unit_amount),
    currency: row.currency,
    active: row.active,
    ...stockOf(row),
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
  const page = scope.includeInactive ? productsWithStock(knex) : productsWithStock(knex).where('products.active', true);
  const [rows, countRow] = await Promise.all([
    page
      .orderBy([
        { column: 'products.created_at', order: 'desc' },
        { column: 'products.id', order: 'desc' },
      ])
      .limit(query.limit)
      .offset((query.page - 1) * query.limit) as Promise<ProductRow[]>,
    filtered().count<{ count: string }[]>({ count: '*' }).first() as Promise<{ count: string } | undefined>,
  ]);
  return { status: 'success', data: rows.map(toProductDto), meta: { total: Number(countRow?.count ?? 0), page: query.page, limit: query.limit } };
}

export async function getProduct(knex: Knex, productId: string, scope: ProductScope): Promise<ProductDto | undefined> {
  const q = productsWithStock(knex).where('products.id', productId);
  if (!scope.includeInactive) q.where('products.active', true);
  const row = (await q.first()) as ProductRow | undefined;
  return row ? toProductDto(row) : undefined;
}

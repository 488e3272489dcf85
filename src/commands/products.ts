import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ConflictError } from '../errors';
import { isoCurrencySchema, minorUnitsSchema } from '../events/valueSchemas';
import { plainTextSchema } from '../queries/plainText';
import { productsWithStock, ProductNotFoundError, toProductDto, type ProductDto, type ProductRow } from '../queries/products';

/** The catalog's writes: adding, renaming, repricing and (de)activating products. */

const skuSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'sku may contain letters, digits, ".", "_" and "-"');
const productNameSchema = plainTextSchema(200, 'name');

export const createProductSchema = z.object({ sku: skuSchema, name: productNameSchema, unitAmount: minorUnitsSchema, currency: isoCurrencySchema }).strict();
export type CreateProduct = z.infer<typeof createProductSchema>;

export const updateProductSchema = z
  .object({ name: productNameSchema.optional(), unitAmount: minorUnitsSchema.optional(), active: z.boolean().optional() })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, 'at least one of name, unitAmount, active is required');
export type UpdateProduct = z.infer<typeof updateProductSchema>;

export class SkuTakenError extends ConflictError {
  constructor(sku: string) {
    super('PRODUCT_SKU_TAKEN', `A product with sku ${sku} already exists`, { sku });
  }
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
  const updated = await knex('products').where('id', productId).update(changes);
  if (updated === 0) throw new ProductNotFoundError(productId);
  const row = (await productsWithStock(knex).where('products.id', productId).first()) as ProductRow;
  return toProductDto(row);
}

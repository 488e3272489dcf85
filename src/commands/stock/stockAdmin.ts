import type { Knex } from 'knex';
import { z } from 'zod';
import type { EncodeContext } from '../../events/codec';
import type { EventStore } from '../../infra/eventstore/eventStore';
import { plainTextSchema } from '../../queries/plainText';
import { ProductNotFoundError } from '../../queries/products';
import { availableStock, type StockCommand } from './stockDecider';
import { handleStockCommand } from './stockCommandHandler';

/** An admin's receipts and corrections of a product's stock. */

const MAX_UNITS = 1_000_000_000;

export const receiveStockSchema = z.object({ quantity: z.number().int().min(1).max(MAX_UNITS) }).strict();
export const adjustStockSchema = z
  .object({
    delta: z
      .number()
      .int()
      .min(-MAX_UNITS)
      .max(MAX_UNITS)
      .refine((d) => d !== 0, 'delta must not be 0'),
    reason: plainTextSchema(500, 'reason'),
  })
  .strict();

export const stockDtoSchema = z.object({
  productId: z.uuid(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int().describe('onHand − reserved'),
  position: z.string().describe('Global position of the last event appended; pass as X-Min-Position to read it back'),
});
export type StockDto = z.infer<typeof stockDtoSchema>;

export interface StockAdminDeps {
  knex: Knex;
  store: EventStore;
}

async function assertProductExists(knex: Knex, productId: string): Promise<void> {
  const row = (await knex('products').where('id', productId).first('id')) as { id: string } | undefined;
  if (!row) throw new ProductNotFoundError(productId);
}

async function run(deps: StockAdminDeps, productId: string, command: StockCommand, context: EncodeContext): Promise<StockDto> {
  await assertProductExists(deps.knex, productId);
  const result = await handleStockCommand(deps.store, productId, command, { context });
  const state = result.state;
  if (!state.tracked) throw new Error('stock decided for an untracked product'); // receive and adjust always track
  return {
    productId,
    onHand: state.onHand,
    reserved: state.reserved,
    available: availableStock(state) ?? 0,
    position: (result.position ?? 0n).toString(),
  };
}

/**
 * A product's id as its stock stream names it: PostgreSQL compares uuids without regard to case, so
 * `ABC…` finds the product `abc…`; its stream must be the one orders reserve from.
 */
const canonicalId = (productId: string): string => productId.toLowerCase();

export function receiveStock(deps: StockAdminDeps, given: string, input: z.infer<typeof receiveStockSchema>, now: string, context: EncodeContext): Promise<StockDto> {
  const productId = canonicalId(given);
  return run(deps, productId, { type: 'ReceiveStock', data: { productId, quantity: input.quantity, now } }, context);
}

export function adjustStock(deps: StockAdminDeps, given: string, input: z.infer<typeof adjustStockSchema>, now: string, context: EncodeContext): Promise<StockDto> {
  const productId = canonicalId(given);
  return run(deps, productId, { type: 'AdjustStock', data: { productId, delta: input.delta, reason: input.reason, now } }, context);
}

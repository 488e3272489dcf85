import { ConflictError } from '../../errors';

/** One line the stock cannot cover. */
export interface StockShortfall {
  productId: string;
  requested: number;
  available: number;
}

/** 409 OUT_OF_STOCK: names every short line with what is available, so the client can correct all at once. */
export class OutOfStockError extends ConflictError {
  constructor(readonly shortfalls: readonly StockShortfall[]) {
    super('OUT_OF_STOCK', `Not enough stock: ${shortfalls.map((s) => `${s.productId} (requested ${s.requested}, available ${s.available})`).join(', ')}`, { products: shortfalls });
  }
}

/** 409 STOCK_ADJUSTMENT_REFUSED: on hand would go negative or below what orders hold. */
export class StockAdjustmentRefusedError extends ConflictError {
  constructor(productId: string, onHand: number, reserved: number, delta: number) {
    super('STOCK_ADJUSTMENT_REFUSED', `Adjusting ${productId} by ${delta} would leave ${onHand + delta} on hand with ${reserved} reserved`, { productId, onHand, reserved, delta });
  }
}

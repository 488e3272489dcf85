import type { Knex } from 'knex';
import type { StoredOrderEvent } from '../events/codec';
import type { StoredStockEvent } from '../events/stockCodec';

/**
 * A read model: the tables it owns and how each event changes their rows. `apply` runs inside the
 * projector's transaction with the events of one batch (already past this projection's checkpoint),
 * and must be idempotent so a replayed event changes nothing.
 */
export interface Projection {
  readonly name: string;
  /** Tables the projection writes; the rebuild copies their shape into fresh tables. */
  readonly tables: readonly string[];
  apply(trx: Knex.Transaction, events: readonly StoredOrderEvent[], tableOf?: (table: string) => string): Promise<void>;
  /** The same for the batch's stock events (`stock-<productId>` streams), for a read model that shows stock. */
  applyStock?(trx: Knex.Transaction, events: readonly StoredStockEvent[], tableOf?: (table: string) => string): Promise<void>;
}

import { randomUUID } from 'node:crypto';
import type { EncodeContext } from '../../events/codec';
import { encodeStockEvent, stockStreamId } from '../../events/stockCodec';
import type { StockEvent } from '../../events/stockEvents';
import { WrongExpectedVersionError, type EventStore } from '../../infra/eventstore/eventStore';
import { ConcurrencyConflictError } from '../orderCommandHandler';
import { decideStock, evolveStock, type StockCommand, type StockState } from './stockDecider';
import { expectedRevisionOf, loadStock } from './stockStream';

export interface StockHandleResult {
  productId: string;
  events: StockEvent[];
  state: StockState;
  revision: bigint;
  position: bigint | undefined;
}

/** Loads a product's stock, decides, appends with the revision read; a concurrent writer means decide again (bounded). */
export async function handleStockCommand(
  store: EventStore,
  productId: string,
  command: StockCommand,
  options: { context?: EncodeContext; maxAttempts?: number } = {},
): Promise<StockHandleResult> {
  const maxAttempts = options.maxAttempts ?? 8;
  const streamId = stockStreamId(productId);
  for (let attempt = 1; ; attempt++) {
    const stream = await loadStock(store, productId);
    const events = decideStock(command, stream.state);
    if (events.length === 0) return { productId, events, state: stream.state, revision: stream.revision, position: stream.position };
    const encoded = events.map((event) => encodeStockEvent(event, randomUUID(), options.context));
    try {
      const result = await store.appendToStream(streamId, encoded, { expectedRevision: expectedRevisionOf(stream) });
      return { productId, events, state: events.reduce(evolveStock, stream.state), revision: result.nextRevision, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (attempt >= maxAttempts) throw new ConcurrencyConflictError(streamId, attempt);
    }
  }
}

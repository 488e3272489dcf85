import { decodeStockEvent, isStockStream, stockStreamId, type StoredStockEvent } from '../../events/stockCodec';
import type { EventStore, ExpectedRevision, RecordedEvent } from '../../infra/eventstore/eventStore';
import { evolveStock, initialStockState, type StockState } from './stockDecider';

/** A product's stock stream folded. */
export interface StockStream {
  productId: string;
  state: StockState;
  /** Revision of the last event; -1n when the stream does not exist (untracked product). */
  revision: bigint;
  events: readonly StoredStockEvent[];
}

const STREAM_PAGE = 1000;

/** Reads `stock-<productId>` (empty when untracked) and folds it. Pages end short at the end, so the read is bounded. */
export async function loadStock(store: EventStore, productId: string): Promise<StockStream> {
  const streamId = stockStreamId(productId);
  const events: StoredStockEvent[] = [];
  for (let from = 0n; ;) {
    const page = await store.readStream(streamId, { fromRevision: from, maxCount: STREAM_PAGE });
    for (const record of page) events.push(decodeStockEvent(record));
    if (page.length < STREAM_PAGE) break;
    from = page[page.length - 1]!.revision + 1n;
  }
  const state = events.reduce((s, stored) => evolveStock(s, stored.event), initialStockState);
  const last = events[events.length - 1];
  return { productId, state, revision: last ? last.revision : -1n, events };
}

export function expectedRevisionOf(stream: { revision: bigint }): ExpectedRevision {
  return stream.revision === -1n ? 'no_stream' : stream.revision;
}

/** The stock events among records read from $all, decoded: what the projector and the CLI hand the read models. */
export function decodeStockRecords(records: readonly RecordedEvent[]): StoredStockEvent[] {
  return records.filter((record) => isStockStream(record.streamId)).map(decodeStockEvent);
}

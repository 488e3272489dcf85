import { decodeStockEvent, isStockStream, stockStreamId, type StoredStockEvent } from '../../events/stockCodec';
import type { EventStore, ExpectedRevision, RecordedEvent } from '../../infra/eventstore/eventStore';
import type { StreamSnapshot } from '../../infra/eventstore/snapshotStore';
import { foldStock, initialStockState, type StockState } from './stockDecider';
import { parseStockSnapshotState, STOCK_SNAPSHOT_SCHEMA } from './stockSnapshot';

/** A product's stock stream folded. */
export interface StockStream {
  productId: string;
  state: StockState;
  /** Revision of the last event; -1n when the stream does not exist (untracked product). */
  revision: bigint;
  /** Global position of the last event; undefined when the stream does not exist. */
  position: bigint | undefined;
  /** The snapshot revision the fold started from; undefined when it folded the whole stream. */
  snapshotRevision: bigint | undefined;
  /** Events read and folded (past the snapshot, when one was used). */
  eventsFolded: number;
}

const STREAM_PAGE = 1000;

/** The stream's events from `from` on, in pages that end short at the end (so the read is bounded). */
async function readFrom(store: EventStore, streamId: string, from: bigint, firstPage?: readonly RecordedEvent[]): Promise<RecordedEvent[]> {
  const records: RecordedEvent[] = [];
  let page = firstPage ?? (await store.readStream(streamId, { fromRevision: from, maxCount: STREAM_PAGE }));
  for (;;) {
    records.push(...page);
    if (page.length < STREAM_PAGE) return records;
    page = await store.readStream(streamId, { fromRevision: page[page.length - 1]!.revision + 1n, maxCount: STREAM_PAGE });
  }
}

/** A product's stock events, all of them, decoded: the fold from the events alone (replay, audit). */
export async function readStockEvents(store: EventStore, productId: string): Promise<StoredStockEvent[]> {
  return (await readFrom(store, stockStreamId(productId), 0n)).map(decodeStockEvent);
}

/** The snapshot if it still describes this stream: the first event read from its revision is the one it folded last. */
function matches(snapshot: StreamSnapshot, first: RecordedEvent | undefined): boolean {
  return first !== undefined && first.revision === snapshot.revision && first.id.toLowerCase() === snapshot.eventId.toLowerCase();
}

/**
 * Reads `stock-<productId>` (empty when untracked) and folds it: from the newest stock snapshot
 * that still matches the stream, else from the start. A fold that read `snapshots.every` events or
 * more past its starting point saves a snapshot of what it read (already committed, so the
 * snapshot is exactly `fold(events[0..revision])`); that save is the only extra round trip, once
 * per `every` events, and its failure only means the next read is longer.
 */
export async function loadStock(store: EventStore, productId: string): Promise<StockStream> {
  const streamId = stockStreamId(productId);
  const { snapshots } = store;
  const snapshot = snapshots.every > 0 ? await snapshots.load(streamId, STOCK_SNAPSHOT_SCHEMA) : undefined;
  const snapshotState = snapshot && parseStockSnapshotState(snapshot.state);
  let base: { state: StockState; revision: bigint } | undefined;
  let records: RecordedEvent[] | undefined;
  if (snapshot && snapshotState) {
    const firstPage = await store.readStream(streamId, { fromRevision: snapshot.revision, maxCount: STREAM_PAGE });
    if (matches(snapshot, firstPage[0])) {
      base = { state: snapshotState, revision: snapshot.revision };
      records = await readFrom(store, streamId, snapshot.revision, firstPage);
    }
  }
  records ??= await readFrom(store, streamId, 0n);
  // From a snapshot, the first event read is the one it folded last.
  const folded = base ? records.slice(1) : records;
  const state = foldStock(
    base?.state ?? initialStockState,
    folded.map((record) => decodeStockEvent(record).event),
  );
  const last = records.at(-1);
  if (last && snapshots.every > 0 && folded.length >= snapshots.every) {
    // A cache write: failing it costs the next reader a longer read, never a wrong state.
    await snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: last.revision, eventId: last.id, state }).catch(() => undefined);
  }
  return { productId, state, revision: last?.revision ?? -1n, position: last?.position, snapshotRevision: base?.revision, eventsFolded: folded.length };
}

export function expectedRevisionOf(stream: { revision: bigint }): ExpectedRevision {
  return stream.revision === -1n ? 'no_stream' : stream.revision;
}

/** The stock events among records read from $all, decoded: what the projector and the CLI hand the read models. */
export function decodeStockRecords(records: readonly RecordedEvent[]): StoredStockEvent[] {
  return records.filter((record) => isStockStream(record.streamId)).map(decodeStockEvent);
}

import type { EventStore, RecordedEvent } from '../infra/eventstore/eventStore';
import { toJson } from './output';

export interface ExportOptions {
  store: EventStore;
  /** One stream only; otherwise all of $all. */
  streamId?: string;
  /** Inclusive lower bound on the global position. */
  from?: bigint;
  batchSize: number;
  /** Receives one page of lines at a time and resolves when the reader has taken them (backpressure). */
  write: (chunk: string) => Promise<void>;
}

/** The exported line: positions and revisions as decimal strings, since they overflow a JSON number. */
export function eventLine(event: RecordedEvent): string {
  return toJson({
    position: event.position,
    streamId: event.streamId,
    revision: event.revision,
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    createdAt: event.createdAt,
  });
}

/**
 * Writes events as JSON lines, one page in memory at a time. $all is exported up to the head seen
 * at the start, so the export ends even while events keep arriving.
 */
export async function exportEvents(options: ExportOptions): Promise<number> {
  const { store, batchSize, write } = options;
  const from = options.from ?? 0n;
  let written = 0;
  const emit = async (events: readonly RecordedEvent[]): Promise<void> => {
    if (events.length === 0) return;
    await write(`${events.map(eventLine).join('\n')}\n`);
    written += events.length;
  };
  if (options.streamId !== undefined) {
    // Revisions only grow page after page and a short page ends the stream: bounded.
    for (let revision = 0n; ;) {
      const page = await store.readStream(options.streamId, { fromRevision: revision, maxCount: batchSize });
      await emit(page.filter((event) => event.position >= from));
      if (page.length < batchSize) break;
      revision = page[page.length - 1]!.revision + 1n;
    }
    return written;
  }
  const head = await store.headPosition();
  // Positions only grow page after page and the loop stops at the head read above: bounded.
  for (let after = from - 1n; after < head;) {
    const page = (await store.readAll({ after, limit: batchSize })).filter((event) => event.position <= head);
    if (page.length === 0) break;
    await emit(page);
    after = page[page.length - 1]!.position;
  }
  return written;
}

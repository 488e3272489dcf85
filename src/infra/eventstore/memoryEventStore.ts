import { DuplicateEventIdError, validateStreamAppends, WrongExpectedVersionError } from './eventStore';
import type {
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  RecordedEvent,
  StreamAppend,
  StreamsAppendResult,
  SubscribeOptions,
  Subscription,
} from './eventStore';
import { DEFAULT_SNAPSHOT_EVERY, InMemorySnapshotStore, type SnapshotStore } from './snapshotStore';

/** What one stream's part of an append turns out to be once checked against the store. */
type Checked = { kind: 'write'; append: StreamAppend; from: bigint } | { kind: 'retry'; result: AppendResult } | { kind: 'conflict'; current: bigint | 'no_stream' };

/**
 * The event-store port in process memory, with the PostgreSQL store's semantics (same contract
 * suite): revisions per stream from 0, positions global and increasing, expected revisions, event
 * ids unique across the store, a re-append of ids already at the place the expected revision names
 * answered with the original result. For fast tests and single-process tools; nothing survives
 * the process. Appends run synchronously, so each is atomic (across streams too) and readers never
 * see a gap.
 */
export class InMemoryEventStore implements EventStore {
  readonly kind = 'memory' as const;
  readonly snapshots: SnapshotStore;
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, RecordedEvent>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(options: { snapshotEvery?: number } = {}) {
    this.snapshots = new InMemorySnapshotStore(options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY);
  }

  async appendToStream(streamId: string, events: EventData[], options: { expectedRevision: ExpectedRevision }): Promise<AppendResult> {
    this.assertOpen();
    if (events.length === 0) throw new Error(`an append to ${streamId} needs at least one event`);
    const append = { streamId, events, expectedRevision: options.expectedRevision };
    const checked = this.check(append, true);
    if (checked.kind === 'retry') return checked.result;
    if (checked.kind === 'conflict') throw new WrongExpectedVersionError(streamId, options.expectedRevision, checked.current);
    return this.write([checked])[0]!;
  }

  async appendToStreams(appends: readonly StreamAppend[]): Promise<StreamsAppendResult> {
    validateStreamAppends(appends);
    this.assertOpen();
    // Everything is checked before anything is written: all or nothing.
    const checked = appends.map((append) => this.check(append, false));
    const summary = (results: AppendResult[]): StreamsAppendResult => ({
      streams: results.map((result, index) => ({ streamId: appends[index]!.streamId, nextRevision: result.nextRevision })),
      position: results[results.length - 1]!.position,
      written: results.every((result) => result.written),
    });
    if (checked.every((item) => item.kind === 'retry')) return summary(checked.map((item) => item.result));
    // A partial retry is a conflict too, named at the first stream that is a retry or does not match.
    const failing = checked.findIndex((item) => item.kind !== 'write');
    if (failing !== -1) {
      const append = appends[failing]!;
      throw new WrongExpectedVersionError(append.streamId, append.expectedRevision, this.currentRevision(append.streamId));
    }
    return summary(this.write(checked.filter((item): item is Extract<Checked, { kind: 'write' }> => item.kind === 'write')));
  }

  /** Writes checked parts one after the other: the one place events enter the log. */
  private write(parts: Array<Extract<Checked, { kind: 'write' }>>): AppendResult[] {
    const taken = parts.flatMap((part) => part.append.events.filter((event) => this.byId.has(event.id)).map((event) => ({ streamId: part.append.streamId, id: event.id })));
    if (taken.length > 0)
      throw new DuplicateEventIdError(
        taken[0]!.streamId,
        taken.map((t) => t.id),
      );
    const results: AppendResult[] = [];
    const createdAt = new Date().toISOString();
    for (const part of parts) {
      const { streamId, events } = part.append;
      const stream = this.streams.get(streamId) ?? [];
      let last: RecordedEvent | undefined;
      events.forEach((event, index) => {
        last = {
          id: event.id,
          streamId,
          type: event.type,
          revision: part.from + BigInt(index),
          position: BigInt(this.log.length + 1),
          data: structuredClone(event.data),
          metadata: structuredClone(event.metadata ?? {}),
          createdAt,
        };
        this.log.push(last);
        stream.push(last);
        this.byId.set(event.id, last);
      });
      this.streams.set(streamId, stream);
      results.push({ nextRevision: last!.revision, position: last!.position, written: true });
    }
    for (const wake of this.wakers) wake();
    return results;
  }

  private currentRevision(streamId: string): bigint | 'no_stream' {
    const stream = this.streams.get(streamId) ?? [];
    return stream.length === 0 ? 'no_stream' : BigInt(stream.length - 1);
  }

  /**
   * `anyWhere`: with `expectedRevision: 'any'`, ids already in the stream count as a retry wherever
   * they stand (appendToStream); otherwise only at the stream's end (appendToStreams).
   */
  private check(append: StreamAppend, anyWhere: boolean): Checked {
    const { streamId, events, expectedRevision } = append;
    const stream = this.streams.get(streamId) ?? [];
    const current = this.currentRevision(streamId);
    const retried = this.retriedAt(stream, events, expectedRevision, anyWhere);
    if (retried) return { kind: 'retry', result: retried };
    const matches = expectedRevision === 'any' || (expectedRevision === 'no_stream' ? current === 'no_stream' : current !== 'no_stream' && current === expectedRevision);
    if (!matches) return { kind: 'conflict', current };
    return { kind: 'write', append, from: BigInt(stream.length) };
  }

  /** The original result when these ids already stand, in order, where the expected revision puts them. */
  private retriedAt(stream: RecordedEvent[], events: EventData[], expected: ExpectedRevision, anyWhere: boolean): AppendResult | undefined {
    const first = this.byId.get(events[0]!.id);
    if (!first || stream[Number(first.revision)] !== first) return undefined;
    const start = first.revision;
    if (expected === 'no_stream' ? start !== 0n : expected !== 'any' && start !== expected + 1n) return undefined;
    const stored = events.map((event, index) => stream[Number(start) + index]);
    if (stored.some((record, index) => record?.id !== events[index]!.id)) return undefined;
    const last = stored[stored.length - 1]!;
    if (expected === 'any' && !anyWhere && last !== stream[stream.length - 1]) return undefined;
    return { nextRevision: last.revision, position: last.position, written: false };
  }

  async readStream(streamId: string, options: { fromRevision?: bigint; maxCount?: number } = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const from = Number(options.fromRevision ?? 0n);
    const stream = this.streams.get(streamId) ?? [];
    return stream.slice(from, options.maxCount === undefined ? undefined : from + options.maxCount).map(copy);
  }

  async readStreams(streamIds: readonly string[], options: { maxCount: number }): Promise<Map<string, RecordedEvent[]>> {
    this.assertOpen();
    return new Map(streamIds.map((id) => [id, (this.streams.get(id) ?? []).slice(0, options.maxCount).map(copy)]));
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    return this.after(options.after ?? -1n, options.limit).map(copy);
  }

  /** Positions are 1, 2, 3…: the events after `after` start at index `after`. */
  private after(after: bigint, limit: number): RecordedEvent[] {
    const start = after < 0n ? 0 : Number(after);
    return this.log.slice(start, start + limit);
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    return new MemorySubscription(this, options.after ?? -1n, options.maxBatchSize ?? 500);
  }

  /** @internal The subscription's view of $all. */
  batchAfter(after: bigint, limit: number): RecordedEvent[] {
    return this.after(after, limit).map(copy);
  }

  /** @internal Runs `wake` after every append; returns the unregister function. */
  onAppend(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async headPosition(): Promise<bigint> {
    return BigInt(this.log.length);
  }

  async lastPosition(): Promise<bigint> {
    return BigInt(this.log.length);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the in-memory event store is closed');
  }
}

function copy(record: RecordedEvent): RecordedEvent {
  return { ...record, data: structuredClone(record.data), metadata: structuredClone(record.metadata) };
}

/** Delivers $all after a position in batches; waits for the next append when caught up. */
class MemorySubscription implements Subscription {
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: InMemoryEventStore,
    private position: bigint,
    private readonly maxBatchSize: number,
  ) {}

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RecordedEvent[]> {
    while (!this.closed && !this.store.isClosed) {
      const batch = this.store.batchAfter(this.position, this.maxBatchSize);
      if (batch.length > 0) {
        this.position = batch[batch.length - 1]!.position;
        yield batch;
        continue;
      }
      await new Promise<void>((resolve) => {
        const unregister = this.store.onAppend(() => done());
        const done = (): void => {
          unregister();
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
      });
    }
  }
}

/**
 * The storage behind the fake EventStoreDB: one append-only log ($all) plus a per-stream index.
 * Positions imitate ESDB log positions: byte offsets that grow by each record's size, so they have
 * gaps and a client cannot get away with treating them as counters. The first record of a real
 * log is an epoch record that is not an event, so no event ever sits at position 0.
 */

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export interface StoredEvent extends ProposedEvent {
  streamId: string;
  revision: bigint;
  /** Commit and prepare position are equal for every event written through gRPC. */
  position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, the unit ESDB sends in the "created" metadata. */
  createdTicks: bigint;
}

export type ExpectedState = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: bigint };

export type AppendOutcome =
  { kind: 'written'; lastRevision: bigint; commitPosition: bigint; preparePosition: bigint } | { kind: 'wrong_expected_version'; current: bigint | 'no_stream' };

export type MultiAppendOutcome =
  { kind: 'written'; lastRevisions: bigint[]; commitPosition: bigint } | { kind: 'wrong_expected_version'; index: number; current: bigint | 'no_stream' };

type CommitCheck = { decision: 'ok' } | { decision: 'idempotent'; last: StoredEvent } | { decision: 'failed'; current: bigint | 'no_stream' };

const EPOCH_RECORD_SIZE = 128n;
const RECORD_OVERHEAD = 96n;

export class MemoryLog {
  private readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly listeners = new Set<() => void>();
  private nextPosition = EPOCH_RECORD_SIZE;

  constructor() {
    // A fresh node writes a few system events before any client does; readers of $all must skip them.
    this.write([
      {
        streamId: '$epoch-information',
        events: [
          {
            id: '00000000-0000-4000-8000-000000000001',
            type: '$epoch-information',
            contentType: 'application/json',
            data: Buffer.from('{"epochNumber":0}'),
            customMetadata: new Uint8Array(),
          },
        ],
      },
    ]);
  }

  /** Head of the log: the position the next record will get, a valid place to read $all from. */
  get endPosition(): bigint {
    return this.nextPosition;
  }

  /**
   * Mirrors the server's commit check: an append whose events are already stored at the place the
   * expected revision names is idempotent and answers with the original position; one that matches
   * only partly is a wrong expected version. With `any`, ids are looked up anywhere in the stream.
   */
  append(streamId: string, expected: ExpectedState, events: ProposedEvent[]): AppendOutcome {
    const check = this.check(streamId, expected, events);
    switch (check.decision) {
      case 'ok':
        return this.written(this.write([{ streamId, events }]));
      case 'idempotent':
        return { kind: 'written', lastRevision: check.last.revision, commitPosition: check.last.position, preparePosition: check.last.position };
      case 'failed':
        return { kind: 'wrong_expected_version', current: check.current };
      default:
        return check satisfies never;
    }
  }

  /**
   * Several streams in one commit, as the server's multi-stream write decides it: written when
   * every stream's check passes; answered with the original result when every stream is a retry
   * (its position the furthest of their last events); otherwise a failure naming the first stream,
   * in request order, that failed or was a retry.
   */
  appendMany(parts: ReadonlyArray<{ streamId: string; expected: ExpectedState; events: ProposedEvent[] }>): MultiAppendOutcome {
    const checks = parts.map((part) => this.check(part.streamId, part.expected, part.events));
    if (checks.every((check) => check.decision === 'ok')) {
      const stored = this.write(parts);
      const lastRevisions = parts.map((part) => this.streams.get(part.streamId)!.at(-1)!.revision);
      return { kind: 'written', lastRevisions, commitPosition: stored.at(-1)!.position };
    }
    if (checks.every((check) => check.decision === 'idempotent')) {
      const lasts = checks.map((check) => (check.decision === 'idempotent' ? check.last : undefined)).filter((last) => last !== undefined);
      return {
        kind: 'written',
        lastRevisions: lasts.map((last) => last.revision),
        commitPosition: lasts.reduce((max, last) => (last.position > max ? last.position : max), -1n),
      };
    }
    const index = checks.findIndex((check) => check.decision !== 'ok');
    const stream = this.streams.get(parts[index]!.streamId);
    return { kind: 'wrong_expected_version', index, current: stream ? BigInt(stream.length) - 1n : 'no_stream' };
  }

  private check(streamId: string, expected: ExpectedState, events: ProposedEvent[]): CommitCheck {
    const stream = this.streams.get(streamId) ?? [];
    const current = BigInt(stream.length) - 1n;
    const failed: CommitCheck = { decision: 'failed', current: current < 0n ? 'no_stream' : current };

    if (expected.kind === 'stream_exists' && current < 0n) return failed;
    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      const found = events.map((event) => stream.find((stored) => stored.id === event.id));
      if (events.length > 0 && found[0]) {
        if (found.some((stored) => !stored)) return failed;
        return { decision: 'idempotent', last: found[found.length - 1]! };
      }
      return { decision: 'ok' };
    }

    const expectedRevision = expected.kind === 'no_stream' ? -1n : expected.revision;
    if (expectedRevision > current) return failed;
    if (expectedRevision < current) {
      let last: StoredEvent | undefined;
      for (const [i, event] of events.entries()) {
        const stored = stream[Number(expectedRevision) + 1 + i];
        if (!stored || stored.id !== event.id) return failed;
        last = stored;
      }
      return last ? { decision: 'idempotent', last } : failed;
    }
    return { decision: 'ok' };
  }

  stream(streamId: string): readonly StoredEvent[] | undefined {
    return this.streams.get(streamId);
  }

  /** Events of $all in log order. */
  get events(): readonly StoredEvent[] {
    return this.all;
  }

  /** Index of the first event at or after `position` in $all. */
  indexAtOrAfter(position: bigint): number {
    let low = 0;
    let high = this.all.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.all[mid]!.position < position) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** ESDB refuses to read $all from the middle of a record. */
  isRecordBoundary(position: bigint): boolean {
    if (position === 0n || position === this.nextPosition) return true;
    return this.all[this.indexAtOrAfter(position)]?.position === position;
  }

  /** Calls `listener` after every write; returns the function that unregisters it. */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One commit: the parts' events one after the other in the log, then one wake-up for readers. */
  private write(parts: ReadonlyArray<{ streamId: string; events: ProposedEvent[] }>): StoredEvent[] {
    const createdTicks = BigInt(Date.now()) * 10_000n;
    const stored: StoredEvent[] = [];
    for (const { streamId, events } of parts) {
      let stream = this.streams.get(streamId);
      if (!stream) {
        stream = [];
        this.streams.set(streamId, stream);
      }
      for (const event of events) {
        const record: StoredEvent = { ...event, streamId, revision: BigInt(stream.length), position: this.nextPosition, createdTicks };
        this.nextPosition += RECORD_OVERHEAD + BigInt(event.data.length + event.customMetadata.length + event.type.length + streamId.length);
        stream.push(record);
        this.all.push(record);
        stored.push(record);
      }
    }
    for (const listener of this.listeners) listener();
    return stored;
  }

  /** Like WriteEventsCompleted: commit is the last event's position, prepare the first one's. */
  private written(stored: StoredEvent[]): AppendOutcome {
    const first = stored[0]!;
    const last = stored[stored.length - 1]!;
    return { kind: 'written', lastRevision: last.revision, commitPosition: last.position, preparePosition: first.position };
  }
}

import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  DuplicateEventIdError,
  WrongExpectedVersionError,
  isMultiStreamEventType,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type StreamAppend,
} from '../infra/eventstore/eventStore';
import { CliFailure } from './output';

export interface ImportOptions {
  store: EventStore;
  /** JSON lines as `events export` writes them. */
  input: Readable;
  /** Most events per append. */
  batchSize: number;
  /** The store may already hold the beginning of this same export (an import that stopped). */
  resume: boolean;
  /** Called after every append with the number of events of the export now in the store. */
  onProgress?: (events: number) => void;
}

export interface ImportReport {
  events: number;
  streams: number;
  appends: number;
  /** Events found already stored (by id, at their revision) when an append was retried. */
  alreadyStored: number;
}

/** A line longer than this is refused rather than buffered: the input may have no line breaks at all. */
const MAX_LINE_CHARS = 64 * 1024 * 1024;
/**
 * Bytes of exported JSON per append, an upper bound of what KurrentDB counts against its maximum
 * append size (1 MiB by default).
 */
const MAX_APPEND_BYTES = 512 * 1024;

const decimal = z.string().regex(/^\d+$/, 'expected a decimal string');
const exportedLineSchema = z.object({
  position: decimal,
  streamId: z.string().min(1),
  revision: decimal,
  id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'expected a UUID'),
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
});

interface Line {
  number: number;
  text: string;
}

/** The input's lines, read as they are consumed: a slow consumer pauses the reading. */
async function* readLines(input: Readable): AsyncGenerator<Line> {
  input.setEncoding('utf8');
  let pending = '';
  let number = 0;
  for await (const chunk of input as AsyncIterable<string>) {
    pending += chunk;
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      number++;
      yield { number, text: pending.slice(start, end) };
      start = end + 1;
    }
    pending = pending.slice(start);
    if (pending.length > MAX_LINE_CHARS) throw new CliFailure(`line ${number + 1}: longer than ${MAX_LINE_CHARS} characters; is this an \`events export\`?`);
  }
  if (pending.length > 0) yield { number: number + 1, text: pending };
}

interface ParsedEvent {
  line: number;
  streamId: string;
  revision: bigint;
  event: EventData;
  bytes: number;
}

function parseLine({ number, text }: Line): ParsedEvent | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch (error) {
    throw new CliFailure(`line ${number}: not JSON (${(error as Error).message})`);
  }
  const parsed = exportedLineSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliFailure(`line ${number}: ${issue.path.join('.') || 'the line'}: ${issue.message}; expected a line of \`events export\``);
  }
  const { streamId, revision, id, type, data, metadata } = parsed.data;
  return { line: number, streamId, revision: BigInt(revision), event: { id, type, data, metadata }, bytes: Buffer.byteLength(trimmed, 'utf8') };
}

/** Consecutive events of one stream in the export, appended together. */
interface Run {
  streamId: string;
  firstRevision: bigint;
  firstLine: number;
  events: EventData[];
}

const expectedBefore = (revision: bigint): ExpectedRevision => (revision === 0n ? 'no_stream' : revision - 1n);

/**
 * Reads an `events export` into a store, keeping each event's id, type, data, metadata and stream
 * revision; positions and record times are the target's. Events go in in export order, so the
 * target's $all order is the source's.
 *
 * Consecutive lines are appended together while no stream comes back after another one has
 * started (an append keeps each stream's events together, so a stream coming back would change the
 * order): one atomic append per chunk, every stream at its exact expected revision. The store thus
 * always holds a prefix of the export, whole chunks only, and only one chunk is in memory.
 *
 * Re-running the same export over a store that holds its beginning (`resume`) recognises what is
 * already stored by event id at its revision and appends only the rest, whatever chunks the
 * first run made.
 */
export async function importEvents(options: ImportOptions): Promise<ImportReport> {
  const { store, batchSize } = options;
  if (!options.resume) {
    const [first] = await store.readAll({ limit: 1 });
    if (first) {
      throw new CliFailure(
        `the target event store is not empty (it holds ${first.streamId} revision ${first.revision}, among others): import only into an empty store, or pass --resume to finish an import of this same export`,
      );
    }
  }
  const report: ImportReport = { events: 0, streams: 0, appends: 0, alreadyStored: 0 };
  let chunk: Run[] = [];
  let chunkEvents = 0;
  let chunkBytes = 0;
  const inChunk = new Set<string>();

  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    await appendChunk(store, chunk, report);
    report.events += chunkEvents;
    report.appends++;
    options.onProgress?.(report.events);
    chunk = [];
    chunkEvents = 0;
    chunkBytes = 0;
    inChunk.clear();
  };

  for await (const line of readLines(options.input)) {
    const parsed = parseLine(line);
    if (!parsed) continue;
    const last = chunk.at(-1);
    if (last?.streamId === parsed.streamId) {
      const next = last.firstRevision + BigInt(last.events.length);
      if (parsed.revision !== next) {
        throw new CliFailure(
          `line ${parsed.line}: ${parsed.streamId} revision ${parsed.revision} follows revision ${next - 1n}; the export must list each stream's events in revision order without gaps`,
        );
      }
    }
    const continues = last?.streamId === parsed.streamId;
    if ((!continues && inChunk.has(parsed.streamId)) || chunkEvents >= batchSize || (chunkEvents > 0 && chunkBytes + parsed.bytes > MAX_APPEND_BYTES)) {
      await flush();
    }
    const current = chunk.at(-1);
    if (current?.streamId === parsed.streamId) {
      current.events.push(parsed.event);
    } else {
      if (parsed.revision === 0n) report.streams++;
      chunk.push({ streamId: parsed.streamId, firstRevision: parsed.revision, firstLine: parsed.line, events: [parsed.event] });
      inChunk.add(parsed.streamId);
    }
    chunkEvents++;
    chunkBytes += parsed.bytes;
  }
  await flush();
  return report;
}

async function appendRuns(store: EventStore, runs: readonly Run[], skip: readonly number[]): Promise<void> {
  const appends: StreamAppend[] = runs
    .map((run, i) => ({
      streamId: run.streamId,
      events: run.events.slice(skip[i] ?? 0),
      expectedRevision: expectedBefore(run.firstRevision + BigInt(skip[i] ?? 0)),
    }))
    .filter((append) => append.events.length > 0);
  if (appends.length === 0) return;
  if (appends.length === 1) {
    const [only] = appends as [StreamAppend];
    await store.appendToStream(only.streamId, only.events, { expectedRevision: only.expectedRevision });
  } else if (appends.every((append) => append.events.every((event) => isMultiStreamEventType(event.type)))) {
    await store.appendToStreams(appends);
  } else {
    // Types the multi-stream append does not take (KurrentDB's record names): one stream at a time, in order.
    for (const append of appends) await store.appendToStream(append.streamId, append.events, { expectedRevision: append.expectedRevision });
  }
}

/**
 * Appends a chunk. When the store refuses it (a resumed import whose earlier run chunked
 * differently, or a store that is not what the export expects), looks at what each stream holds at
 * the chunk's revisions: events already there with the same ids are skipped, the rest appended; an
 * event with another id at a revision is a store this export does not belong to.
 */
async function appendChunk(store: EventStore, runs: readonly Run[], report: ImportReport): Promise<void> {
  try {
    await appendRuns(store, runs, []);
    return;
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError) && !(error instanceof DuplicateEventIdError)) throw error;
  }
  const skip: number[] = [];
  for (const run of runs) {
    const stored = await store.readStream(run.streamId, { fromRevision: run.firstRevision, maxCount: run.events.length });
    stored.forEach((event, i) => {
      const expected = run.events[i]!;
      if (event.id.toLowerCase() !== expected.id.toLowerCase()) {
        throw new CliFailure(
          `line ${run.firstLine + i}: ${run.streamId} revision ${event.revision} holds event ${event.id} in the target, the export has ${expected.id}: the target holds other events than this export`,
        );
      }
    });
    skip.push(stored.length);
    report.alreadyStored += stored.length;
  }
  try {
    await appendRuns(store, runs, skip);
  } catch (error) {
    const run = runs[0]!;
    if (error instanceof WrongExpectedVersionError) {
      const failed = runs.find((r) => r.streamId === error.streamId) ?? run;
      throw new CliFailure(
        `line ${failed.firstLine}: ${failed.streamId} is at revision ${String(error.actual)} in the target, but the export continues it at revision ${failed.firstRevision}: import a whole export (not --from or --stream) into an empty store, or --resume this same export`,
      );
    }
    if (error instanceof DuplicateEventIdError) {
      const failed = runs.find((r) => r.streamId === error.streamId) ?? run;
      throw new CliFailure(`line ${failed.firstLine}: an event id of ${failed.streamId} is already stored in another stream of the target, which keeps event ids unique`);
    }
    throw error;
  }
}

import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError, type EventData, type EventStore, type ExpectedRevision, type RecordedEvent, type StreamAppend } from '../../src/infra/eventstore/eventStore';
import { testEvent, uniqueStream } from '../support/events';

export interface ContractSubject {
  store: EventStore;
  cleanup(): Promise<void>;
  /** The store says whether an append wrote or was a retry (`written`); KurrentDB answers both alike. */
  tellsRetries: boolean;
}

async function collect(store: EventStore, after: bigint | undefined, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const subscription = store.subscribeToAll(after === undefined ? {} : { after });
  const seen: RecordedEvent[] = [];
  const timer = setTimeout(() => void subscription.close(), timeoutMs);
  for await (const batch of subscription) {
    seen.push(...batch);
    if (seen.length >= count) break;
  }
  clearTimeout(timer);
  await subscription.close();
  return seen;
}

/** readAll, retried (bounded) until it returns `count` events. */
async function readAllEventually(store: EventStore, after: bigint, count: number, timeoutMs = 10_000): Promise<RecordedEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await store.readAll({ after, limit: count });
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A small deterministic generator (mulberry32), so a failing interleaving can be told apart from a new one. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Rejects when `promise` has not settled within `ms`: a hung append fails the test instead of hanging it. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The event-store port's contract, written against the interface only: every adapter runs it.
 * `makeSubject` must return a store over an empty $all.
 */
export function describeEventStoreContract(name: string, makeSubject: () => Promise<ContractSubject>): void {
  describe(`event store contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: EventStore;
    /** `written` as the store must report it: exactly when it tells retries apart, absent otherwise. */
    const written = (wrote: boolean): boolean | undefined => (subject.tellsRetries ? wrote : undefined);

    beforeAll(async () => {
      subject = await makeSubject();
      store = subject.store;
    });
    afterAll(async () => {
      await subject.cleanup();
    });

    describe('appendToStream', () => {
      it('when a stream is new and no_stream is expected, then events get revisions from 0 and a position', async () => {
        const stream = uniqueStream();
        const result = await store.appendToStream(stream, [testEvent(), testEvent()], { expectedRevision: 'no_stream' });
        expect(result.nextRevision).toBe(1n);
        const events = await store.readStream(stream);
        expect(events.map((e) => e.revision)).toEqual([0n, 1n]);
        expect(result.position).toBe(events[1]!.position);
        expect(events[0]!.position < events[1]!.position).toBe(true);
      });

      it('when no_stream is expected but the stream exists, then it fails with the actual revision', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const error = await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect((error as WrongExpectedVersionError).actual).toBe(0n);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('when the exact revision matches, then the events are appended after it', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const result = await store.appendToStream(stream, [testEvent(), testEvent()], { expectedRevision: 0n });
        expect(result.nextRevision).toBe(2n);
      });

      it('when the exact revision is stale, then it fails with the actual revision and writes nothing', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent(), testEvent(), testEvent()], { expectedRevision: 'no_stream' });
        const error = await store.appendToStream(stream, [testEvent()], { expectedRevision: 1n }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect((error as WrongExpectedVersionError).actual).toBe(2n);
        expect((error as WrongExpectedVersionError).expected).toBe(1n);
        expect(await store.readStream(stream)).toHaveLength(3);
      });

      it('when an exact revision is expected of a stream that does not exist, then it fails with no_stream', async () => {
        const stream = uniqueStream();
        const error = await store.appendToStream(stream, [testEvent()], { expectedRevision: 0n }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect((error as WrongExpectedVersionError).actual).toBe('no_stream');
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('when any revision is expected, then it appends to new and existing streams', async () => {
        const stream = uniqueStream();
        expect((await store.appendToStream(stream, [testEvent()], { expectedRevision: 'any' })).nextRevision).toBe(0n);
        expect((await store.appendToStream(stream, [testEvent()], { expectedRevision: 'any' })).nextRevision).toBe(1n);
      });

      it('when events are re-appended with the same ids at the same place, then nothing is written and the original result returns', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const batch = [testEvent(), testEvent()];
        const first = await store.appendToStream(stream, batch, { expectedRevision: 0n });
        const again = await store.appendToStream(stream, batch, { expectedRevision: 0n });
        expect(first.written).toBe(written(true));
        expect(again).toEqual({ nextRevision: first.nextRevision, position: first.position, written: written(false) });
        expect(again.written).toBe(written(false));
        const events = await store.readStream(stream);
        expect(events.map((e) => e.id)).toEqual([events[0]!.id, batch[0]!.id, batch[1]!.id]);
      });

      it('when a first append is retried with no_stream, then it is a no-op', async () => {
        const stream = uniqueStream();
        const batch = [testEvent()];
        const first = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        await expect(store.appendToStream(stream, batch, { expectedRevision: 'no_stream' })).resolves.toEqual({ ...first, written: written(false) });
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('when the same event is appended concurrently ten times, then it is stored once', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const event = testEvent();
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.appendToStream(stream, [event], { expectedRevision: 0n })));
        expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
        // One of them wrote the event; every other was told it found it stored.
        const said = results.map((r) => (r.status === 'fulfilled' ? r.value.written : 'failed'));
        expect(said.filter((w) => w === true)).toHaveLength(subject.tellsRetries ? 1 : 0);
        expect(said.filter((w) => w === false)).toHaveLength(subject.tellsRetries ? 9 : 0);
        const events = await store.readStream(stream);
        expect(events.filter((e) => e.id === event.id)).toHaveLength(1);
        expect(events).toHaveLength(2);
      });

      it('keeps data, metadata and type as written', async () => {
        const stream = uniqueStream();
        const event = testEvent({ type: 'ThingDone', data: { nested: { a: [1, 2] }, text: 'ü €' }, metadata: { schemaVersion: 1, actor: { type: 'user', id: 'u1' } } });
        await store.appendToStream(stream, [event], { expectedRevision: 'any' });
        const [read] = await store.readStream(stream);
        expect(read).toMatchObject({ id: event.id, streamId: stream, type: 'ThingDone', data: event.data, metadata: event.metadata });
        expect(new Date(read!.createdAt).toISOString()).toBe(read!.createdAt);
      });
    });

    describe('appendToStreams', () => {
      const existing = async (events: number): Promise<string> => {
        const stream = uniqueStream();
        await store.appendToStream(
          stream,
          Array.from({ length: events }, () => testEvent()),
          { expectedRevision: 'no_stream' },
        );
        return stream;
      };

      it('when every stream’s expected revision holds, then every event is written with its own revision and position, in request order, together in $all', async () => {
        const fresh = uniqueStream();
        const exact = await existing(1);
        const any = await existing(2);
        const before = await store.lastPosition();
        const appends: StreamAppend[] = [
          { streamId: fresh, events: [testEvent(), testEvent()], expectedRevision: 'no_stream' },
          { streamId: exact, events: [testEvent()], expectedRevision: 0n },
          { streamId: any, events: [testEvent(), testEvent()], expectedRevision: 'any' },
        ];
        const result = await store.appendToStreams(appends);
        expect(result.streams).toEqual([
          { streamId: fresh, nextRevision: 1n },
          { streamId: exact, nextRevision: 1n },
          { streamId: any, nextRevision: 3n },
        ]);
        expect((await store.readStream(fresh)).map((e) => [e.revision, e.id])).toEqual([
          [0n, appends[0]!.events[0]!.id],
          [1n, appends[0]!.events[1]!.id],
        ]);
        expect((await store.readStream(exact)).map((e) => e.revision)).toEqual([0n, 1n]);
        expect((await store.readStream(any)).slice(2).map((e) => e.id)).toEqual(appends[2]!.events.map((e) => e.id));

        const all = await readAllEventually(store, before, 5);
        expect(all.map((e) => e.id)).toEqual(appends.flatMap((a) => a.events.map((e) => e.id)));
        expect(new Set(all.map((e) => e.position)).size).toBe(5);
        for (let i = 1; i < all.length; i++) expect(all[i - 1]!.position < all[i]!.position).toBe(true);
        expect(result.position).toBe(all[4]!.position);
        expect((await store.lastPosition()) >= result.position).toBe(true);
      });

      it('when one stream’s expected revision is stale, then nothing is written to any stream and the error names that stream with both revisions', async () => {
        const fresh = uniqueStream();
        const stale = await existing(3);
        const other = await existing(1);
        const before = await store.lastPosition();
        const error = await caught(
          store.appendToStreams([
            { streamId: fresh, events: [testEvent()], expectedRevision: 'no_stream' },
            { streamId: stale, events: [testEvent()], expectedRevision: 1n },
            { streamId: other, events: [testEvent()], expectedRevision: 0n },
          ]),
        );
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ streamId: stale, expected: 1n, actual: 2n });
        expect(await store.readStream(fresh)).toEqual([]);
        expect(await store.readStream(stale)).toHaveLength(3);
        expect(await store.readStream(other)).toHaveLength(1);
        expect(await store.lastPosition()).toBe(before);
      });

      it('when several streams are stale, then the error names the first of them in request order', async () => {
        const exists = await existing(1);
        const missing = uniqueStream();
        const error = await caught(
          store.appendToStreams([
            { streamId: missing, events: [testEvent()], expectedRevision: 4n },
            { streamId: exists, events: [testEvent()], expectedRevision: 'no_stream' },
          ]),
        );
        expect(error).toMatchObject({ streamId: missing, expected: 4n, actual: 'no_stream' });
        const second = await caught(
          store.appendToStreams([
            { streamId: exists, events: [testEvent()], expectedRevision: 'no_stream' },
            { streamId: missing, events: [testEvent()], expectedRevision: 4n },
          ]),
        );
        expect(second).toMatchObject({ streamId: exists, expected: 'no_stream', actual: 0n });
        expect(await store.readStream(missing)).toEqual([]);
      });

      it('when the same append is retried whole, then nothing is written and the original result returns', async () => {
        const exact = await existing(2);
        const appends: StreamAppend[] = [
          { streamId: uniqueStream(), events: [testEvent(), testEvent()], expectedRevision: 'no_stream' },
          { streamId: exact, events: [testEvent()], expectedRevision: 1n },
        ];
        const first = await store.appendToStreams(appends);
        const lastBefore = await store.lastPosition();
        const again = await store.appendToStreams(appends);
        expect(first.written).toBe(written(true));
        expect(again).toEqual({ streams: first.streams, position: first.position, written: written(false) });
        expect(again.written).toBe(written(false));
        expect(await store.readStream(appends[0]!.streamId)).toHaveLength(2);
        expect(await store.readStream(exact)).toHaveLength(3);
        expect(await store.lastPosition()).toBe(lastBefore);
      });

      it('when a retry also writes to a new stream, then it is a conflict on the stream already written and nothing is written', async () => {
        const written: StreamAppend = { streamId: uniqueStream(), events: [testEvent()], expectedRevision: 'no_stream' };
        await store.appendToStreams([written]);
        const added: StreamAppend = { streamId: uniqueStream(), events: [testEvent()], expectedRevision: 'no_stream' };
        const error = await caught(store.appendToStreams([added, written]));
        expect(error).toMatchObject({ streamId: written.streamId, expected: 'no_stream', actual: 0n });
        expect(await store.readStream(added.streamId)).toEqual([]);
      });

      it('keeps data, metadata and type as written, for readStream, readAll and subscribers', async () => {
        const before = await store.lastPosition();
        const event: EventData = {
          id: randomUUID(),
          type: 'Stock.Reserved:v2',
          data: { nested: { a: [1, 2] }, text: 'ü €', flag: true, none: null },
          metadata: { schemaVersion: 2, actor: { type: 'user', id: 'u1' }, tags: ['a'], ratio: 1.5 },
        };
        const plain = testEvent({ metadata: {} });
        const stream = uniqueStream();
        await store.appendToStreams([
          { streamId: stream, events: [event], expectedRevision: 'no_stream' },
          { streamId: uniqueStream(), events: [plain], expectedRevision: 'no_stream' },
        ]);
        const expected = { id: event.id, streamId: stream, type: event.type, data: event.data, metadata: event.metadata };
        expect((await store.readStream(stream))[0]).toMatchObject(expected);
        const [fromAll, plainFromAll] = await readAllEventually(store, before, 2);
        expect(fromAll).toMatchObject(expected);
        expect(plainFromAll?.metadata).toEqual({});
        const [fromSubscription] = await collect(store, before, 1);
        expect(fromSubscription).toMatchObject(expected);
      });

      it.each<[string, () => StreamAppend[]]>([
        ['no stream', () => []],
        [
          'a stream twice (in any letter case)',
          () => [
            { streamId: 'order-ABC', events: [testEvent()], expectedRevision: 'any' },
            { streamId: 'order-abc', events: [testEvent()], expectedRevision: 'any' },
          ],
        ],
        ['a stream without events', () => [{ streamId: uniqueStream(), events: [], expectedRevision: 'any' }]],
        [
          'an event id twice',
          () => {
            const event = testEvent();
            return [
              { streamId: uniqueStream(), events: [event], expectedRevision: 'any' },
              { streamId: uniqueStream(), events: [{ ...event }], expectedRevision: 'any' },
            ];
          },
        ],
        ['an event type with a space', () => [{ streamId: uniqueStream(), events: [testEvent({ type: 'Order Placed' })], expectedRevision: 'any' }]],
      ])('when given %s, then it refuses before writing anything', async (_name, appends) => {
        const input = appends();
        await expect(store.appendToStreams(input)).rejects.toBeInstanceOf(RangeError);
        for (const append of input) expect(await store.readStream(append.streamId)).toEqual([]);
      });

      it('when 16 writers append to overlapping sets of 6 streams, then no append is partly written, none deadlocks, and a subscriber sees every event once, in order', async () => {
        const streams = Array.from({ length: 6 }, () => uniqueStream('multi'));
        const writers = 16;
        const appendsPerWriter = 8;
        const start = await store.lastPosition();
        const random = seededRandom(17);
        const known = new Map<string, bigint>(streams.map((s) => [s, -1n]));
        const committed = new Map<string, string[]>();
        const refused = new Set<string>();
        let attempts = 0;

        const subscription = store.subscribeToAll({ after: start, maxBatchSize: 100 });
        const seen: RecordedEvent[] = [];
        let expectedTotal = Infinity;
        const reading = (async () => {
          const timer = setTimeout(() => void subscription.close(), 60_000);
          for await (const batch of subscription) {
            seen.push(...batch.filter((e) => known.has(e.streamId)));
            if (seen.length >= expectedTotal) break;
          }
          clearTimeout(timer);
          await subscription.close();
        })();

        const writer = async (w: number): Promise<void> => {
          for (let done = 0; done < appendsPerWriter;) {
            if (++attempts > writers * appendsPerWriter * 40) throw new Error('too many conflicts: writers are not making progress');
            // A random subset of 2-4 streams in a random order: every lock order is asked for.
            const shuffled = [...streams];
            for (let i = shuffled.length - 1; i > 0; i--) {
              const j = Math.floor(random() * (i + 1));
              [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
            }
            const subset = shuffled.slice(0, 2 + Math.floor(random() * 3));
            const tag = `${w}-${done}-${randomUUID()}`;
            const appends: StreamAppend[] = subset.map((streamId) => {
              const revision = known.get(streamId)!;
              const expectedRevision: ExpectedRevision = random() < 0.2 ? 'any' : revision < 0n ? 'no_stream' : revision;
              const count = 1 + Math.floor(random() * 2);
              return { streamId, expectedRevision, events: Array.from({ length: count }, () => testEvent({ data: { tag } })) };
            });
            try {
              const result = await store.appendToStreams(appends);
              for (const { streamId, nextRevision } of result.streams) if (nextRevision > known.get(streamId)!) known.set(streamId, nextRevision);
              committed.set(
                tag,
                appends.flatMap((a) => a.events.map((e) => e.id)),
              );
              done++;
            } catch (error) {
              if (!(error instanceof WrongExpectedVersionError)) throw error;
              refused.add(tag);
              known.set(error.streamId, error.actual === 'no_stream' ? -1n : error.actual);
            }
          }
        };
        await within(40_000, 'the 16 writers', Promise.all(Array.from({ length: writers }, (_, w) => writer(w))));
        expectedTotal = [...committed.values()].reduce((sum, ids) => sum + ids.length, 0);
        if (seen.length >= expectedTotal) await subscription.close();
        await reading;

        expect(committed.size).toBe(writers * appendsPerWriter);
        const byTag = new Map<string, string[]>();
        for (const streamId of streams) {
          const events = await store.readStream(streamId);
          expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => BigInt(i)));
          for (const event of events) {
            const tag = event.data.tag as string;
            byTag.set(tag, [...(byTag.get(tag) ?? []), event.id]);
          }
        }
        // Whole or absent: each committed append has all of its events, a refused one none.
        expect(new Set(byTag.keys())).toEqual(new Set(committed.keys()));
        for (const [tag, ids] of committed) expect(new Set(byTag.get(tag))).toEqual(new Set(ids));
        expect(refused.size).toBeGreaterThan(0);
        for (const tag of refused) expect(byTag.has(tag)).toBe(false);

        // Every event once, in position order, each append's events side by side in request order.
        const ids = seen.map((e) => e.id);
        expect(ids).toHaveLength(expectedTotal);
        expect(new Set(ids).size).toBe(ids.length);
        for (let i = 1; i < seen.length; i++) expect(seen[i - 1]!.position < seen[i]!.position).toBe(true);
        for (const appended of committed.values()) {
          const first = ids.indexOf(appended[0]!);
          expect(ids.slice(first, first + appended.length)).toEqual(appended);
        }
        const read: RecordedEvent[] = [];
        for (let after = start, page = await store.readAll({ after, limit: 500 }); page.length > 0; page = await store.readAll({ after, limit: 500 })) {
          read.push(...page.filter((e) => known.has(e.streamId)));
          after = page[page.length - 1]!.position;
        }
        expect(read.map((e) => e.id)).toEqual(ids);
      });
    });

    describe('readStream', () => {
      it('when the stream does not exist, then it returns no events', async () => {
        expect(await store.readStream(uniqueStream())).toEqual([]);
      });

      it('reads from a revision, bounded by a count', async () => {
        const stream = uniqueStream();
        await store.appendToStream(
          stream,
          Array.from({ length: 5 }, () => testEvent()),
          { expectedRevision: 'no_stream' },
        );
        const events = await store.readStream(stream, { fromRevision: 2n, maxCount: 2 });
        expect(events.map((e) => e.revision)).toEqual([2n, 3n]);
      });
    });

    describe('readStreams', () => {
      it('when several streams are read at once, then each holds what readStream returns for it, the missing one is empty, and a repeated id is answered once', async () => {
        const [long, short, missing] = [uniqueStream(), uniqueStream(), uniqueStream()];
        await store.appendToStream(
          long,
          Array.from({ length: 4 }, () => testEvent()),
          { expectedRevision: 'no_stream' },
        );
        await store.appendToStream(short, [testEvent()], { expectedRevision: 'no_stream' });
        await store.appendToStream(long, [testEvent()], { expectedRevision: 3n });
        const streams = await store.readStreams([short, long, missing, short], { maxCount: 100 });
        expect([...streams.keys()].sort()).toEqual([long, missing, short].sort());
        expect(streams.get(long)).toEqual(await store.readStream(long));
        expect(streams.get(long)!.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
        expect(streams.get(short)).toEqual(await store.readStream(short));
        expect(streams.get(missing)).toEqual([]);
      });

      it('when a count is given, then each stream is read from its start up to that many events', async () => {
        const [long, short] = [uniqueStream(), uniqueStream()];
        await store.appendToStream(
          long,
          Array.from({ length: 5 }, () => testEvent()),
          { expectedRevision: 'no_stream' },
        );
        await store.appendToStream(short, [testEvent()], { expectedRevision: 'no_stream' });
        const streams = await store.readStreams([long, short], { maxCount: 3 });
        expect(streams.get(long)).toEqual(await store.readStream(long, { maxCount: 3 }));
        expect(streams.get(short)!.map((e) => e.revision)).toEqual([0n]);
        expect((await store.readStreams([], { maxCount: 3 })).size).toBe(0);
      });
    });

    describe('readAll and subscribeToAll', () => {
      it('readAll returns events after a position in position order, limited', async () => {
        const stream = uniqueStream();
        const first = await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        await store.appendToStream(stream, [testEvent(), testEvent()], { expectedRevision: 0n });
        // Readers see an event once no older transaction is still open; on a busy server that can lag a moment.
        const events = await readAllEventually(store, first.position, 2);
        expect(events).toHaveLength(2);
        expect(events.every((e) => e.position > first.position)).toBe(true);
        expect(events[0]!.position < events[1]!.position).toBe(true);
        const head = await store.headPosition();
        expect(head >= events[1]!.position).toBe(true);
        expect((await store.lastPosition()) >= head).toBe(true);
      });

      it('lastPosition is at least the position of every append, as soon as the append has returned', async () => {
        const appended = await store.appendToStream(uniqueStream(), [testEvent(), testEvent()], { expectedRevision: 'no_stream' });
        expect((await store.lastPosition()) >= appended.position).toBe(true);
      });

      it('a subscription from a position delivers the events after it, then new ones as they are appended', async () => {
        const stream = uniqueStream();
        const before = await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const existing = testEvent();
        await store.appendToStream(stream, [existing], { expectedRevision: 0n });
        const live = testEvent();
        const collecting = collect(store, before.position, 2);
        await new Promise((r) => setTimeout(r, 50));
        await store.appendToStream(stream, [live], { expectedRevision: 1n });
        const seen = await collecting;
        expect(seen.slice(0, 2).map((e) => e.id)).toEqual([existing.id, live.id]);
      });

      it('a subscription resumed from a checkpoint continues exactly after it', async () => {
        const stream = uniqueStream();
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) {
          const e = testEvent();
          ids.push(e.id);
          await store.appendToStream(stream, [e], { expectedRevision: i === 0 ? 'no_stream' : BigInt(i - 1) });
        }
        const all = await store.readStream(stream);
        const checkpoint = all[2]!.position;
        const resumed = await collect(store, checkpoint, 3);
        expect(resumed.slice(0, 3).map((e) => e.id)).toEqual(ids.slice(3));
      });

      it('closing a subscription ends its iteration', async () => {
        const subscription = store.subscribeToAll({ after: await store.headPosition() });
        const iterating = (async () => {
          for await (const batch of subscription) void batch;
          return 'ended';
        })();
        await new Promise((r) => setTimeout(r, 50));
        await subscription.close();
        await expect(iterating).resolves.toBe('ended');
      });

      it('when a subscriber is slower than $all, then full batches follow each other without gap or repeat, and events appended while it works follow them', async () => {
        const start = await store.headPosition();
        const stream = uniqueStream();
        const first = Array.from({ length: 23 }, () => testEvent());
        await store.appendToStream(stream, first, { expectedRevision: 'no_stream' });
        const later = Array.from({ length: 4 }, () => testEvent());
        const subscription = store.subscribeToAll({ after: start, maxBatchSize: 5 });
        const timer = setTimeout(() => void subscription.close(), 10_000);
        const batches: RecordedEvent[][] = [];
        for await (const batch of subscription) {
          batches.push(batch);
          // Appended while the subscriber works on its second batch, after the next one may have been read.
          if (batches.length === 2) await store.appendToStream(stream, later, { expectedRevision: 22n });
          await new Promise((r) => setTimeout(r, 20));
          if (batches.flat().length >= first.length + later.length) break;
        }
        clearTimeout(timer);
        await subscription.close();
        expect(batches.flat().map((e) => e.id)).toEqual([...first, ...later].map((e) => e.id));
        expect(batches.every((b) => b.length <= 5)).toBe(true);
      });

      it('when a subscriber stops after its first batch (the next may be read already), then a new subscription resumes exactly after the last batch taken', async () => {
        const start = await store.headPosition();
        const events = Array.from({ length: 12 }, () => testEvent());
        await store.appendToStream(uniqueStream(), events, { expectedRevision: 'no_stream' });
        const first = store.subscribeToAll({ after: start, maxBatchSize: 4 });
        let taken: RecordedEvent[] = [];
        for await (const batch of first) {
          taken = batch;
          break;
        }
        await first.close();
        const remaining = events.length - taken.length;
        const rest = await collect(store, taken[taken.length - 1]!.position, remaining);
        expect([...taken, ...rest.slice(0, remaining)].map((e) => e.id)).toEqual(events.map((e) => e.id));
      });

      it('when 16 writers append thousands of events concurrently, then a subscriber sees every event once, in order', async () => {
        const start = await store.headPosition();
        const writers = 16;
        const perWriter = 200;
        const subscription = store.subscribeToAll({ after: start, maxBatchSize: 300 });
        const seen: RecordedEvent[] = [];
        const written = new Set<string>();
        let writersDone = false;
        const reading = (async () => {
          const timer = setTimeout(() => void subscription.close(), 30_000);
          for await (const batch of subscription) {
            seen.push(...batch);
            if (writersDone && seen.length >= written.size) break;
          }
          clearTimeout(timer);
          await subscription.close();
        })();
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let i = 0; i < perWriter; i++) {
              // Mix single appends to fresh streams with multi-event appends to one stream per writer.
              if (i % 5 === 4) {
                const pair = [testEvent(), testEvent()];
                pair.forEach((e) => written.add(e.id));
                await store.appendToStream(`load-${w}-${randomUUID()}`, pair, { expectedRevision: 'no_stream' });
                i++;
              } else {
                const e = testEvent();
                written.add(e.id);
                await store.appendToStream(uniqueStream('load'), [e], { expectedRevision: 'no_stream' });
              }
            }
          }),
        );
        writersDone = true;
        if (seen.length >= written.size) await subscription.close();
        await reading;
        const ids = seen.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(written.size);
        expect(new Set(ids)).toEqual(written);
        for (let i = 1; i < seen.length; i++) expect(seen[i - 1]!.position < seen[i]!.position).toBe(true);
      });
    });
  });
}

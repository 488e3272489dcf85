import { randomUUID } from 'node:crypto';
import {
  WrongExpectedVersionError,
  type EventStore,
  type RecordedEvent,
} from '../../src/infra/eventstore/eventStore';
import { testEvent, uniqueStream } from '../support/events';

export interface ContractSubject {
  store: EventStore;
  cleanup(): Promise<void>;
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

/**
 * The event-store port's contract, written against the interface only: every adapter runs it.
 * `makeSubject` must return a store over an empty $all.
 */
export function describeEventStoreContract(name: string, makeSubject: () => Promise<ContractSubject>): void {
  describe(`event store contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: EventStore;

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
        expect(again).toEqual(first);
        const events = await store.readStream(stream);
        expect(events.map((e) => e.id)).toEqual([events[0]!.id, batch[0]!.id, batch[1]!.id]);
      });

      it('when a first append is retried with no_stream, then it is a no-op', async () => {
        const stream = uniqueStream();
        const batch = [testEvent()];
        const first = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        await expect(store.appendToStream(stream, batch, { expectedRevision: 'no_stream' })).resolves.toEqual(first);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('when the same event is appended concurrently ten times, then it is stored once', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
        const event = testEvent();
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, () => store.appendToStream(stream, [event], { expectedRevision: 0n })),
        );
        expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
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

    describe('readStream', () => {
      it('when the stream does not exist, then it returns no events', async () => {
        expect(await store.readStream(uniqueStream())).toEqual([]);
      });

      it('reads from a revision, bounded by a count', async () => {
        const stream = uniqueStream();
        await store.appendToStream(stream, Array.from({ length: 5 }, () => testEvent()), { expectedRevision: 'no_stream' });
        const events = await store.readStream(stream, { fromRevision: 2n, maxCount: 2 });
        expect(events.map((e) => e.revision)).toEqual([2n, 3n]);
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
        const all = (await store.readStream(stream));
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

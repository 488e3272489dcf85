import { randomUUID } from 'node:crypto';
import { EsdbEventStore, EventStoreTimeoutError } from '../../src/infra/eventstore/esdbEventStore';
import type { RecordedEvent } from '../../src/infra/eventstore/eventStore';
import { startFakeEsdb, type FakeEsdb } from '../fakes/esdb/fakeEsdb';
import { testEvent, uniqueStream } from '../support/events';
import { describeEventStoreContract, type ContractSubject } from './eventStoreContract';

async function fakeSubject(): Promise<ContractSubject> {
  const fake = await startFakeEsdb();
  const store = new EsdbEventStore({ connectionString: fake.connectionString });
  return {
    store,
    tellsRetries: false,
    async cleanup() {
      await store.close();
      await fake.close();
    },
  };
}

// A KurrentDB 25.1 server: BatchAppend for single appends, AppendSession for appendToStreams.
describeEventStoreContract('EsdbEventStore (gRPC test server)', fakeSubject);

const realServer = process.env.EVENTSTORE_CONNECTION_STRING;
if (realServer) {
  describeEventStoreContract('EsdbEventStore (real server at EVENTSTORE_CONNECTION_STRING)', async () => {
    const store = new EsdbEventStore({ connectionString: realServer });
    return { store, cleanup: () => store.close(), tellsRetries: false };
  });
} else {
  console.log('EsdbEventStore against a real EventStoreDB: skipped, EVENTSTORE_CONNECTION_STRING is not set (no server can be installed here)');
}

describe('EsdbEventStore specifics (gRPC test server)', () => {
  let fake: FakeEsdb;
  let store: EsdbEventStore;

  beforeAll(async () => {
    fake = await startFakeEsdb();
    store = new EsdbEventStore({ connectionString: fake.connectionString, timeoutMs: 2000 });
  });
  afterAll(async () => {
    await store.close();
    await fake.close();
  });

  it('when $all starts with the server’s own system events, then readAll from the start skips them', async () => {
    const stream = uniqueStream();
    const event = testEvent();
    await store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
    const events = await store.readAll({ limit: 1000 });
    expect(events.some((e) => e.type.startsWith('$'))).toBe(false);
    expect(events.map((e) => e.id)).toContain(event.id);
  });

  it('when an event type starts with $, then readAll and subscriptions skip it but keep going after it', async () => {
    const stream = uniqueStream();
    const before = await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
    const system = testEvent({ type: '$internal' });
    const after = testEvent();
    await store.appendToStream(stream, [system, after], { expectedRevision: 0n });

    const read = await store.readAll({ after: before.position, limit: 1 });
    expect(read.map((e) => e.id)).toEqual([after.id]);

    const subscription = store.subscribeToAll({ after: before.position });
    const seen: RecordedEvent[] = [];
    for await (const batch of subscription) {
      seen.push(...batch);
      if (seen.length >= 1) break;
    }
    await subscription.close();
    expect(seen.map((e) => e.id)).toEqual([after.id]);
  });

  it('when the projector starts with no checkpoint (-1), then the subscription starts at the beginning of $all', async () => {
    const event = testEvent();
    await store.appendToStream(uniqueStream(), [event], { expectedRevision: 'no_stream' });
    const subscription = store.subscribeToAll({ after: -1n });
    const seen: string[] = [];
    for await (const batch of subscription) {
      seen.push(...batch.map((e) => e.id));
      if (seen.includes(event.id)) break;
    }
    await subscription.close();
    expect(seen).toContain(event.id);
  });

  it('batches what arrived while the consumer was busy, never more than maxBatchSize', async () => {
    const start = await store.headPosition();
    const stream = uniqueStream();
    await store.appendToStream(
      stream,
      Array.from({ length: 25 }, () => testEvent()),
      { expectedRevision: 'no_stream' },
    );
    const subscription = store.subscribeToAll({ after: start, maxBatchSize: 10 });
    const sizes: number[] = [];
    for await (const batch of subscription) {
      sizes.push(batch.length);
      await new Promise((r) => setTimeout(r, 20));
      if (sizes.reduce((a, b) => a + b, 0) >= 25) break;
    }
    await subscription.close();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(sizes.length).toBeLessThan(25);
  });

  it('when an event id is already stored in another stream, then ESDB accepts it (PostgreSQL would refuse)', async () => {
    const event = testEvent();
    await store.appendToStream(uniqueStream(), [event], { expectedRevision: 'no_stream' });
    await expect(store.appendToStream(uniqueStream(), [event], { expectedRevision: 'no_stream' })).resolves.toMatchObject({ nextRevision: 0n });
  });

  it('accepts the esdb:// spelling of the connection string that EventStoreDB documented', async () => {
    const kurrent = new EsdbEventStore({ connectionString: fake.connectionString.replace(/^kurrentdb:/, 'esdb:') });
    try {
      await expect(kurrent.ping()).resolves.toBeUndefined();
    } finally {
      await kurrent.close();
    }
  });
});

describe('EsdbEventStore append paths (gRPC test server)', () => {
  it.each([
    { batchAppend: true, path: 'batchAppend' as const },
    { batchAppend: false, path: 'append' as const },
  ])('when the server advertises BatchAppend: $batchAppend, then appends go over $path', async ({ batchAppend, path }) => {
    const fake = await startFakeEsdb({ batchAppend });
    const store = new EsdbEventStore({ connectionString: fake.connectionString });
    try {
      const stream = uniqueStream();
      await store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' });
      await expect(store.appendToStream(stream, [testEvent()], { expectedRevision: 'no_stream' })).rejects.toMatchObject({ actual: 0n });
      expect(fake.calls[path]).toBe(2);
      expect(fake.calls[path === 'append' ? 'batchAppend' : 'append']).toBe(0);
    } finally {
      await store.close();
      await fake.close();
    }
  });

  it.each([{ batchAppend: true }, { batchAppend: false }])(
    'when the server does not answer (BatchAppend: $batchAppend), then appends and reads fail with a timeout instead of hanging',
    async ({ batchAppend }) => {
      const fake = await startFakeEsdb({ batchAppend });
      const store = new EsdbEventStore({ connectionString: fake.connectionString, timeoutMs: 300 });
      try {
        // The client's reader connects on first use after its discovery interval (500 ms by default).
        await eventually(() => store.ping(), 5000);
        fake.setUnresponsive(true);
        const started = Date.now();
        await expect(store.appendToStream(uniqueStream(), [testEvent()], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(EventStoreTimeoutError);
        if (batchAppend) {
          await expect(store.appendToStreams([{ streamId: uniqueStream(), events: [testEvent()], expectedRevision: 'no_stream' }])).rejects.toBeInstanceOf(EventStoreTimeoutError);
        }
        await expect(store.readStream(uniqueStream())).rejects.toBeInstanceOf(EventStoreTimeoutError);
        await expect(store.readAll({ limit: 10 })).rejects.toBeInstanceOf(EventStoreTimeoutError);
        await expect(store.headPosition()).rejects.toBeInstanceOf(EventStoreTimeoutError);
        await expect(store.ping()).rejects.toBeInstanceOf(EventStoreTimeoutError);
        const subscription = store.subscribeToAll();
        const iterating = (async () => {
          for await (const batch of subscription) void batch;
        })();
        await expect(iterating).rejects.toBeInstanceOf(EventStoreTimeoutError);
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        await store.close();
        await fake.close();
      }
    },
  );
});

/** Retries `attempt` until it resolves, at most for `ms`. */
async function eventually(attempt: () => Promise<void>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

describe('EsdbEventStore when the server goes away (gRPC test server)', () => {
  it('then an open subscription fails from its iterator, so the consumer can restart from its checkpoint', async () => {
    const fake = await startFakeEsdb();
    const store = new EsdbEventStore({ connectionString: fake.connectionString, timeoutMs: 2000 });
    try {
      await store.appendToStream(`test-${randomUUID()}`, [testEvent()], { expectedRevision: 'no_stream' });
      const subscription = store.subscribeToAll({ after: await store.headPosition() });
      const iterating = (async () => {
        for await (const batch of subscription) void batch;
      })();
      await new Promise((r) => setTimeout(r, 100));
      await fake.close();
      await expect(iterating).rejects.toThrow();
    } finally {
      await store.close();
      await fake.close();
    }
  });
});

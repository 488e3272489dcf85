import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { readCheckpoints, SingletonSubscriber, type BatchContext } from '../../src/infra/eventstore/singletonSubscriber';
import { createLogger } from '../../src/infra/logger';
import type { RecordedEvent } from '../../src/infra/eventstore/eventStore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const event = () => ({ id: randomUUID(), type: 'Noted', data: {} });

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, boundMs = 10_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SingletonSubscriber checkpoint-only commits', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ connectionString: db.url, poolMax: 4, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  function subscriber(name: string, delayMs: number, seen: RecordedEvent[], withWork: (e: RecordedEvent) => boolean): SingletonSubscriber {
    return new SingletonSubscriber({
      name,
      store,
      knex: db.knex,
      logger: createLogger('silent'),
      connectionString: db.url,
      maxBatchSize: 100,
      checkpointOnlyDelayMs: delayMs,
      async handleBatch(batch, context: BatchContext) {
        seen.push(...batch);
        const last = batch[batch.length - 1]!;
        await context.commit(last.position, batch.some(withWork) ? async () => undefined : undefined);
      },
    });
  }

  const stored = async (name: string): Promise<bigint | undefined> => (await readCheckpoints(db.knex, [name])).get(name);

  it('given a long delay, when a batch only moves the checkpoint, then it is written no sooner than the delay, and by stop()', async () => {
    const name = `deferred-${randomUUID()}`;
    const seen: RecordedEvent[] = [];
    const runner = subscriber(name, 60_000, seen, () => false);
    runner.start();
    const appended = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
    await until(
      async () => seen.length,
      (n) => n >= 1,
    );
    expect(seen.map((e) => e.position)).toContain(appended.position);
    expect(runner.position).toBe(appended.position);
    expect(await stored(name)).toBeUndefined();
    await runner.stop();
    expect(await stored(name)).toBe(appended.position);
  });

  it('given a short delay, when a batch only moves the checkpoint, then the timer writes it while the subscriber keeps running', async () => {
    const name = `timer-${randomUUID()}`;
    const seen: RecordedEvent[] = [];
    const runner = subscriber(name, 50, seen, () => false);
    runner.start();
    try {
      const appended = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
      expect(
        await until(
          () => stored(name),
          (p) => p === appended.position,
        ),
      ).toBe(appended.position);
    } finally {
      await runner.stop();
    }
  });

  it('when a batch carries work, then its checkpoint is written with the work at once, whatever the delay', async () => {
    const name = `work-${randomUUID()}`;
    const seen: RecordedEvent[] = [];
    const runner = subscriber(name, 60_000, seen, () => true);
    runner.start();
    try {
      const appended = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
      await until(
        async () => seen.length,
        (n) => n >= 1,
      );
      expect(
        await until(
          () => stored(name),
          (p) => p === appended.position,
        ),
      ).toBe(appended.position);
    } finally {
      await runner.stop();
    }
  });
});

describe('SingletonSubscriber gathering', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ connectionString: db.url, poolMax: 4, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('given a gather time, when events arrive after the subscriber caught up, then it reads nothing until the time is up or stop() ends the wait, and they come as one batch', async () => {
    const name = `gather-${randomUUID()}`;
    const batches: RecordedEvent[][] = [];
    const runner = new SingletonSubscriber({
      name,
      store,
      knex: db.knex,
      logger: createLogger('silent'),
      connectionString: db.url,
      maxBatchSize: 100,
      gatherMs: 60_000,
      async handleBatch(batch, context: BatchContext) {
        batches.push(batch);
        await context.commit(batch[batch.length - 1]!.position);
      },
    });
    runner.start();
    const first = await store.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
    await until(
      async () => batches.length,
      (n) => n >= 1,
    );
    expect(batches.flat().map((e) => e.position)).toEqual([first.position]);
    const stream = `note-${randomUUID()}`;
    await store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
    const last = await store.appendToStream(stream, [event()], { expectedRevision: 0n });
    // Without the gather time the append's in-process wake-up would have it read within milliseconds.
    await new Promise((r) => setTimeout(r, 300));
    expect(batches).toHaveLength(1);
    await runner.stop();
    expect(batches).toHaveLength(1);
    expect(await readCheckpoints(db.knex, [name])).toEqual(new Map([[name, first.position]]));
    runner.start();
    try {
      await until(
        async () => batches.length,
        (n) => n >= 2,
      );
      expect(batches).toHaveLength(2);
      expect(batches[1]!.map((e) => e.streamId)).toEqual([stream, stream]);
      expect(batches[1]!.at(-1)!.position).toBe(last.position);
    } finally {
      await runner.stop();
    }
  });
});

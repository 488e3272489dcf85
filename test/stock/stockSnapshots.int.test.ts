import { randomUUID } from 'node:crypto';
import { handleStockCommand } from '../../src/commands/stock/stockCommandHandler';
import { evolveStock, initialStockState, type StockCommand, type StockState } from '../../src/commands/stock/stockDecider';
import { STOCK_SNAPSHOT_SCHEMA } from '../../src/commands/stock/stockSnapshot';
import { loadStock, readStockEvents } from '../../src/commands/stock/stockStream';
import { encodeStockEvent, stockStreamId } from '../../src/events/stockCodec';
import type { StockEvent } from '../../src/events/stockEvents';
import { loadConfig } from '../../src/infra/config/config';
import { createEventStore } from '../../src/infra/eventstore/createEventStore';
import { EsdbEventStore } from '../../src/infra/eventstore/esdbEventStore';
import type { EventStore } from '../../src/infra/eventstore/eventStore';
import { InMemoryEventStore } from '../../src/infra/eventstore/memoryEventStore';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { PostgresSnapshotStore } from '../../src/infra/eventstore/snapshotStore';
import { createLogger } from '../../src/infra/logger';
import { startFakeEsdb } from '../fakes/esdb/fakeEsdb';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const EVERY = 50;
const at = '2026-03-01T09:00:00.000Z';

/** A store that counts the events it hands out per stream. */
function counting(inner: EventStore): { store: EventStore; eventsRead: (streamId: string) => number; reset(): void } {
  const read = new Map<string, number>();
  const store = Object.create(inner) as EventStore;
  store.readStream = async (streamId, options) => {
    const events = await inner.readStream(streamId, options);
    read.set(streamId, (read.get(streamId) ?? 0) + events.length);
    return events;
  };
  return { store, eventsRead: (streamId) => read.get(streamId) ?? 0, reset: () => read.clear() };
}

/** A sales history: tracking, a large receipt, then orders reserved and committed (every third released, every fifth returned). */
function salesHistory(productId: string, length: number): StockEvent[] {
  const events: StockEvent[] = [
    { type: 'StockTrackingStarted', data: { productId, startedAt: at } },
    { type: 'StockReceived', data: { productId, quantity: 1_000_000, receivedAt: at } },
  ];
  for (let i = 0; events.length < length; i++) {
    const orderId = randomUUID();
    events.push({ type: 'StockReserved', data: { productId, orderId, quantity: 2, reservedAt: at } });
    if (i % 3 === 0) events.push({ type: 'StockReleased', data: { productId, orderId, quantity: 2, reason: 'cancelled', releasedAt: at } });
    else events.push({ type: 'StockCommitted', data: { productId, orderId, quantity: 2, committedAt: at } });
    if (i % 5 === 1) events.push({ type: 'StockReturned', data: { productId, orderId, quantity: 1, returnedAt: at } });
  }
  return events.slice(0, length);
}

async function appendHistory(store: EventStore, productId: string, events: readonly StockEvent[]): Promise<void> {
  const streamId = stockStreamId(productId);
  let revision = -1n;
  for (let from = 0; from < events.length; from += 500) {
    const chunk = events.slice(from, from + 500).map((event) => encodeStockEvent(event, randomUUID()));
    revision = (await store.appendToStream(streamId, chunk, { expectedRevision: revision === -1n ? 'no_stream' : revision })).nextRevision;
  }
}

const foldAll = async (store: EventStore, productId: string): Promise<StockState> =>
  (await readStockEvents(store, productId)).reduce((state, stored) => evolveStock(state, stored.event), initialStockState);

interface Subject {
  store: EventStore;
  close(): Promise<void>;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const subjects: Array<[string, () => Promise<Subject>]> = [
  [
    'PostgreSQL',
    async () => {
      const store = new PostgresEventStore({ connectionString: db.url, poolMax: 4, snapshotEvery: EVERY });
      return { store, close: () => store.close() };
    },
  ],
  [
    'in-memory',
    async () => {
      const store = new InMemoryEventStore({ snapshotEvery: EVERY });
      return { store, close: () => store.close() };
    },
  ],
  [
    'KurrentDB (gRPC test server) with snapshots in PostgreSQL',
    async () => {
      const fake = await startFakeEsdb();
      const store = new EsdbEventStore({ connectionString: fake.connectionString, snapshots: PostgresSnapshotStore.open(db.url, EVERY) });
      return {
        store,
        async close() {
          await store.close();
          await fake.close();
        },
      };
    },
  ],
];

describe.each(subjects)('stock snapshots on %s', (_name, open) => {
  let subject: Subject;
  beforeAll(async () => {
    subject = await open();
  });
  afterAll(async () => {
    await subject.close();
  });

  it('when a long stream is loaded twice, then the second load starts from the snapshot the first saved and reads only from there', async () => {
    const productId = randomUUID();
    await appendHistory(subject.store, productId, salesHistory(productId, 1_200));
    const { store, eventsRead } = counting(subject.store);
    const first = await loadStock(store, productId);
    expect(first).toMatchObject({ revision: 1_199n, snapshotRevision: undefined, eventsFolded: 1_200 });
    expect(first.state).toEqual(await foldAll(subject.store, productId));
    expect(await subject.store.snapshots.load(stockStreamId(productId), STOCK_SNAPSHOT_SCHEMA)).toMatchObject({ revision: 1_199n });

    const counted = counting(subject.store);
    const second = await loadStock(counted.store, productId);
    expect(second).toEqual({ ...first, snapshotRevision: 1_199n, eventsFolded: 0 });
    // Only the snapshot's own event, which proves the snapshot still describes the stream.
    expect(counted.eventsRead(stockStreamId(productId))).toBe(1);
    expect(eventsRead(stockStreamId(productId))).toBe(1_200);
  });

  it('when commands are decided one after another, then every load equals the fold of all events, snapshots being saved on the way', async () => {
    const productId = randomUUID();
    const orders = Array.from({ length: 12 }, () => randomUUID());
    const commands: StockCommand[] = [{ type: 'ReceiveStock', data: { productId, quantity: 500, now: at } }];
    for (let round = 0; round < 6; round++) {
      for (const [i, orderId] of orders.entries()) {
        const id = `${orderId.slice(0, 24)}${String(round).padStart(12, '0')}`;
        commands.push({ type: 'ReserveStock', data: { productId, orderId: id, quantity: 1 + (i % 3), now: at } });
        commands.push({ type: i % 4 === 0 ? 'ReleaseStock' : 'CommitStock', data: { orderId: id, reason: 'r', now: at } } as StockCommand);
        if (i % 5 === 2) commands.push({ type: 'ReturnStock', data: { orderId: id, quantity: 1, now: at } });
      }
      commands.push({ type: 'AdjustStock', data: { productId, delta: -1, reason: 'count', now: at } });
    }
    let snapshotsUsed = 0;
    for (const command of commands) {
      await handleStockCommand(subject.store, productId, command);
      const loaded = await loadStock(subject.store, productId);
      if (loaded.snapshotRevision !== undefined) snapshotsUsed += 1;
      expect(loaded.state).toEqual(await foldAll(subject.store, productId));
    }
    expect(commands.length).toBeGreaterThan(3 * EVERY);
    expect(snapshotsUsed).toBeGreaterThan(commands.length / 2);
  }, 90_000);

  it('when events are appended after a snapshot and nothing loads in between (a crash before the next save), then the next load folds them onto it', async () => {
    const productId = randomUUID();
    const history = salesHistory(productId, 400);
    await appendHistory(subject.store, productId, history.slice(0, 300));
    await loadStock(subject.store, productId);
    const more = history.slice(300).map((event) => encodeStockEvent(event, randomUUID()));
    await subject.store.appendToStream(stockStreamId(productId), more, { expectedRevision: 299n });
    const loaded = await loadStock(subject.store, productId);
    expect(loaded).toMatchObject({ snapshotRevision: 299n, eventsFolded: 100, revision: 399n });
    expect(loaded.state).toEqual(await foldAll(subject.store, productId));
  });

  it('when buyers race for a long stream, each load saving snapshots as it goes, then no reservation is lost or doubled and every snapshot is the fold of its events', async () => {
    const productId = randomUUID();
    await appendHistory(subject.store, productId, salesHistory(productId, 2 * EVERY - 5));
    const buyers = Array.from({ length: 16 }, () => randomUUID());
    await Promise.all(
      buyers.map((orderId) => handleStockCommand(subject.store, productId, { type: 'ReserveStock', data: { productId, orderId, quantity: 1, now: at } }, { maxAttempts: 40 })),
    );
    const truth = await foldAll(subject.store, productId);
    expect((await loadStock(subject.store, productId)).state).toEqual(truth);
    for (const orderId of buyers) expect(truth.tracked && truth.reservations[orderId]).toEqual({ quantity: 1, status: 'RESERVED', returned: 0 });
    const snapshot = await subject.store.snapshots.load(stockStreamId(productId), STOCK_SNAPSHOT_SCHEMA);
    expect(snapshot).toBeDefined();
    const events = await readStockEvents(subject.store, productId);
    expect(snapshot!.eventId).toBe(events[Number(snapshot!.revision)]!.id);
    expect(snapshot!.state).toEqual(events.slice(0, Number(snapshot!.revision) + 1).reduce((state, stored) => evolveStock(state, stored.event), initialStockState));
  }, 60_000);

  describe('snapshots a reader must not trust', () => {
    async function streamWithoutSnapshot(length: number): Promise<{ productId: string; streamId: string; truth: StockState }> {
      const productId = randomUUID();
      // Shorter than EVERY, so the loads below save nothing of their own.
      await appendHistory(subject.store, productId, salesHistory(productId, length));
      return { productId, streamId: stockStreamId(productId), truth: await foldAll(subject.store, productId) };
    }
    const bogus = { tracked: true, productId: 'x', onHand: 7, reserved: 0, reservations: {} };

    it('when the snapshot was made by another version of the fold, then it is ignored and the stream is folded from its start', async () => {
      const { productId, streamId, truth } = await streamWithoutSnapshot(30);
      const [, , third] = await subject.store.readStream(streamId);
      await subject.store.snapshots.save({ streamId, schema: 'stock-state/0', revision: 2n, eventId: third!.id, state: bogus });
      const loaded = await loadStock(subject.store, productId);
      expect(loaded).toMatchObject({ snapshotRevision: undefined, eventsFolded: 30 });
      expect(loaded.state).toEqual(truth);
    });

    it('when the snapshot names another event at its revision (a replaced stream), then it is ignored', async () => {
      const { productId, streamId, truth } = await streamWithoutSnapshot(30);
      await subject.store.snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 20n, eventId: randomUUID(), state: bogus });
      const loaded = await loadStock(subject.store, productId);
      expect(loaded).toMatchObject({ snapshotRevision: undefined, eventsFolded: 30 });
      expect(loaded.state).toEqual(truth);
    });

    it('when the snapshot is ahead of the stream, then it is ignored', async () => {
      const { productId, streamId, truth } = await streamWithoutSnapshot(30);
      await subject.store.snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 5_000n, eventId: randomUUID(), state: bogus });
      const loaded = await loadStock(subject.store, productId);
      expect(loaded).toMatchObject({ snapshotRevision: undefined, revision: 29n });
      expect(loaded.state).toEqual(truth);
    });

    it('when the snapshot state is not a stock state, then it is ignored', async () => {
      const { productId, streamId, truth } = await streamWithoutSnapshot(30);
      const [, , third] = await subject.store.readStream(streamId);
      await subject.store.snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 2n, eventId: third!.id, state: { tracked: true, onHand: 'many' } });
      const loaded = await loadStock(subject.store, productId);
      expect(loaded).toMatchObject({ snapshotRevision: undefined, eventsFolded: 30 });
      expect(loaded.state).toEqual(truth);
    });

    it('when an older snapshot is saved after a newer one (two savers), then the newer one stays', async () => {
      const { streamId } = await streamWithoutSnapshot(30);
      const events = await subject.store.readStream(streamId);
      await subject.store.snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 20n, eventId: events[20]!.id, state: bogus });
      await subject.store.snapshots.save({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 10n, eventId: events[10]!.id, state: initialStockState });
      expect(await subject.store.snapshots.load(streamId, STOCK_SNAPSHOT_SCHEMA)).toMatchObject({ revision: 20n, eventId: events[20]!.id });
    });
  });
});

describe('stock snapshots turned off (SNAPSHOT_EVERY=0)', () => {
  it('when a long stream is loaded, then nothing is saved and every load reads the whole stream', async () => {
    const store = new PostgresEventStore({ connectionString: db.url, poolMax: 2, snapshotEvery: 0 });
    try {
      const productId = randomUUID();
      await appendHistory(store, productId, salesHistory(productId, 300));
      await loadStock(store, productId);
      const counted = counting(store);
      expect(await loadStock(counted.store, productId)).toMatchObject({ snapshotRevision: undefined, eventsFolded: 300 });
      expect(counted.eventsRead(stockStreamId(productId))).toBe(300);
      expect(await store.snapshots.load(stockStreamId(productId), STOCK_SNAPSHOT_SCHEMA)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('where each store keeps its snapshots (createEventStore)', () => {
  const snapshot = (streamId: string) => ({ streamId, schema: STOCK_SNAPSHOT_SCHEMA, revision: 3n, eventId: randomUUID(), state: initialStockState });

  it('when PostgreSQL is the event store, then snapshots go to stream_snapshots in its database, saved every SNAPSHOT_EVERY events', async () => {
    const store = createEventStore(loadConfig({ DATABASE_URL: db.url, SNAPSHOT_EVERY: '25' }), createLogger('silent'));
    try {
      expect(store.snapshots.every).toBe(25);
      const streamId = `stock-${randomUUID()}`;
      await store.snapshots.save(snapshot(streamId));
      expect(await db.knex('stream_snapshots').where({ stream_id: streamId }).first()).toMatchObject({ schema: STOCK_SNAPSHOT_SCHEMA, revision: '3' });
    } finally {
      await store.close();
    }
  });

  it('when KurrentDB is the event store, then snapshots go to the read models’ PostgreSQL; SNAPSHOT_EVERY=0 keeps none', async () => {
    const fake = await startFakeEsdb();
    const on = createEventStore(loadConfig({ DATABASE_URL: db.url, EVENTSTORE_CONNECTION_STRING: fake.connectionString, SNAPSHOT_EVERY: '25' }), createLogger('silent'));
    const off = createEventStore(loadConfig({ DATABASE_URL: db.url, EVENTSTORE_CONNECTION_STRING: fake.connectionString, SNAPSHOT_EVERY: '0' }), createLogger('silent'));
    try {
      expect(on.kind).toBe('esdb');
      expect(on.snapshots.every).toBe(25);
      const streamId = `stock-${randomUUID()}`;
      await on.snapshots.save(snapshot(streamId));
      expect(await db.knex('stream_snapshots').where({ stream_id: streamId }).first()).toMatchObject({ revision: '3' });
      expect(off.snapshots.every).toBe(0);
      const productId = randomUUID();
      await appendHistory(off, productId, salesHistory(productId, 60));
      expect(await loadStock(off, productId)).toMatchObject({ snapshotRevision: undefined, eventsFolded: 60 });
      expect(
        await db
          .knex('stream_snapshots')
          .where({ stream_id: stockStreamId(productId) })
          .first(),
      ).toBeUndefined();
    } finally {
      await on.close();
      await off.close();
      await fake.close();
    }
  });

  it('when SNAPSHOT_EVERY is negative or not a number, then the configuration is refused naming it', () => {
    expect(() => loadConfig({ SNAPSHOT_EVERY: '-1' })).toThrow(/SNAPSHOT_EVERY/);
    expect(() => loadConfig({ SNAPSHOT_EVERY: 'often' })).toThrow(/SNAPSHOT_EVERY/);
  });
});

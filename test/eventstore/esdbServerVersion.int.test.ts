import { EsdbEventStore, EventStoreServerTooOldError } from '../../src/infra/eventstore/esdbEventStore';
import { spawnTs } from '../support/childProcesses';
import { testEvent, uniqueStream } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { startFakeEsdb, type FakeEsdb, type FakeEsdbOptions } from '../fakes/esdb/fakeEsdb';

const olderServers: Array<[string, FakeEsdbOptions]> = [
  ['24.10 (BatchAppend, no AppendSession)', { version: '24.10.0' }],
  ['before 21.10 (no ServerFeatures at all)', { batchAppend: false }],
];

describe('EsdbEventStore and the KurrentDB version it needs (gRPC test server)', () => {
  it('when the server is 25.1, then the start-up check passes without writing anything', async () => {
    const fake = await startFakeEsdb({ version: '25.1.0' });
    const store = new EsdbEventStore({ connectionString: fake.connectionString });
    try {
      const logged = fake.log.events.length;
      await expect(store.verifyServer()).resolves.toBeUndefined();
      expect(fake.calls.appendSession).toBe(1);
      expect(fake.log.events).toHaveLength(logged);
    } finally {
      await store.close();
      await fake.close();
    }
  });

  it.each(olderServers)('when the server is %s, then the start-up check and appendToStreams refuse, naming KurrentDB 25.1', async (_name, options) => {
    const fake = await startFakeEsdb(options);
    const store = new EsdbEventStore({ connectionString: fake.connectionString });
    try {
      const check = await store.verifyServer().catch((error: unknown) => error);
      expect(check).toBeInstanceOf(EventStoreServerTooOldError);
      expect((check as Error).message).toMatch(/needs KurrentDB 25\.1 or later/);
      const stream = uniqueStream();
      await expect(store.appendToStreams([{ streamId: stream, events: [testEvent()], expectedRevision: 'no_stream' }])).rejects.toBeInstanceOf(EventStoreServerTooOldError);
      // The client decides from the advertised methods: the old server never sees a session.
      expect(fake.calls.appendSession).toBe(0);
      expect(await store.readStream(stream)).toEqual([]);
    } finally {
      await store.close();
      await fake.close();
    }
  });

  describe('the server process', () => {
    let db: TestDatabase;
    let fake: FakeEsdb;

    beforeAll(async () => {
      [db, fake] = await Promise.all([createTestDatabase(), startFakeEsdb({ version: '24.10.0' })]);
    });
    afterAll(async () => {
      await fake.close();
      await db.drop();
    });

    it('when EVENTSTORE_CONNECTION_STRING names a server older than 25.1, then it stops at start-up with one line naming the version', async () => {
      const child = spawnTs('src/main.ts', [], {
        env: { ...process.env, DATABASE_URL: db.url, EVENTSTORE_CONNECTION_STRING: fake.connectionString, ROLES: 'api', PORT: '0', LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        'order-ledger failed to start: the event store at EVENTSTORE_CONNECTION_STRING does not offer atomic multi-stream appends; order-ledger needs KurrentDB 25.1 or later',
      ]);
      expect(fake.calls.getSupportedMethods).toBeGreaterThan(0);
    });
  });
});

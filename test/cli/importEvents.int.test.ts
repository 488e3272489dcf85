import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { importEvents } from '../../src/cli/importEvents';
import type { RecordedEvent } from '../../src/infra/eventstore/eventStore';
import { EsdbEventStore } from '../../src/infra/eventstore/esdbEventStore';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { startFakeEsdb } from '../fakes/esdb/fakeEsdb';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

describe('importEvents', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ connectionString: db.url, poolMax: 4 });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('when the export is far larger than an append, then it reads the input only as fast as it appends, and keeps the export’s order', async () => {
    const total = 20_000;
    const streams = Array.from({ length: 40 }, () => `load-${randomUUID()}`);
    const ids: string[] = [];
    let generated = 0;
    let imported = 0;
    let mostAhead = 0;
    // Lines made on demand, as a file read from disk would arrive: the test never holds the export.
    function* exportChunks(): Generator<Buffer> {
      let text = '';
      for (let i = 0; i < total; i++) {
        const id = randomUUID();
        ids.push(id);
        const streamId = streams[i % streams.length]!;
        const revision = Math.floor(i / streams.length);
        text += `${JSON.stringify({ position: String(1000 + i), streamId, revision: String(revision), id, type: 'LoadNoted', data: { i }, metadata: { schemaVersion: 1 }, createdAt: '2026-03-01T00:00:00.000Z' })}\n`;
        generated++;
        mostAhead = Math.max(mostAhead, generated - imported);
        if (text.length >= 4096) {
          yield Buffer.from(text);
          text = '';
        }
      }
      if (text) yield Buffer.from(text);
    }

    const report = await importEvents({
      store,
      input: Readable.from(exportChunks(), { objectMode: false }),
      batchSize: 100,
      resume: false,
      onProgress: (events) => {
        imported = events;
      },
    });

    expect(report).toEqual({ events: total, streams: streams.length, appends: total / streams.length, alreadyStored: 0 });
    // Never more than a few input buffers and one append ahead: memory does not grow with the export.
    expect(mostAhead).toBeLessThan(total / 20);
    const read: RecordedEvent[] = [];
    for (let page = await store.readAll({ limit: 5000 }); page.length > 0; page = await store.readAll({ after: read.at(-1)!.position, limit: 5000 })) read.push(...page);
    expect(read.map((e) => e.id)).toEqual(ids);
    expect(read.slice(0, 2).map((e) => [e.streamId, e.revision])).toEqual([
      [streams[0], 0n],
      [streams[1], 0n],
    ]);
  });

  it('when events are large, then no append exceeds KurrentDB’s maximum append size (1 MiB)', async () => {
    const fake = await startFakeEsdb();
    const kurrent = new EsdbEventStore({ connectionString: fake.connectionString });
    try {
      const streams = [`big-${randomUUID()}`, `big-${randomUUID()}`];
      const lines = [0, 1, 2, 3].map((i) =>
        JSON.stringify({
          position: String(i + 1),
          streamId: streams[i % 2],
          revision: String(Math.floor(i / 2)),
          id: randomUUID(),
          type: 'Big',
          data: { blob: '€'.repeat(180_000) },
          metadata: {},
          createdAt: '2026-03-01T00:00:00.000Z',
        }),
      );
      const report = await importEvents({ store: kurrent, input: Readable.from([Buffer.from(`${lines.join('\n')}\n`)]), batchSize: 500, resume: false });
      expect(report).toMatchObject({ events: 4, appends: 4 });
      expect(fake.log.events.filter((e) => e.type === 'Big')).toHaveLength(4);
    } finally {
      await kurrent.close();
      await fake.close();
    }
  });
});

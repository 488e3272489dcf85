import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { spawnTs, killAndConfirmGone } from '../support/childProcesses';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { startFakeEsdb, type FakeEsdb } from '../fakes/esdb/fakeEsdb';
import {
  admin,
  createCliLedger,
  expectOneLineFailure,
  lifecycle,
  parseExportedLines as parseLines,
  projectAll,
  readModelRows,
  runCli,
  seedOrder,
  type CliLedger,
  type ExportedLine,
} from './cliHarness';

/** What must survive a move: everything but the position and the time the target recorded the event. */
const portable = (stdout: string): Array<Omit<ExportedLine, 'position' | 'createdAt'>> => parseLines(stdout).map(({ position: _position, createdAt: _createdAt, ...rest }) => rest);

/** Read-model rows without the store positions they carry. */
async function rowsWithoutPositions(ledger: { db: TestDatabase }): Promise<unknown> {
  const rows = await readModelRows(ledger);
  const strip = (row: unknown): unknown => {
    const { position: _position, ...rest } = row as Record<string, unknown>;
    return rest;
  };
  return { orders: rows.orders.map(strip), history: rows.history.map(strip) };
}

/** `projections rebuild` then `audit verify` on the target: clean, and the same rows as the source's. */
async function expectRebuiltLikeSource(env: Record<string, string>, db: TestDatabase, source: CliLedger): Promise<void> {
  expect((await runCli(['projections', 'rebuild'], env)).code).toBe(0);
  const verified = await runCli(['audit', 'verify'], env);
  expect(verified.code).toBe(0);
  expect(verified.stdout).toMatch(/: 0 mismatch\(es\)$/m);
  expect(await rowsWithoutPositions({ db })).toEqual(await rowsWithoutPositions(source));
}

async function eventCount(db: TestDatabase): Promise<number> {
  const row = (await db.knex('events').count({ n: '*' }).first()) as { n: string };
  return Number(row.n);
}

describe('order-ledger events import', () => {
  let source: CliLedger;
  let exported: string;
  let lineCount: number;
  const targets: TestDatabase[] = [];
  let fake: FakeEsdb | undefined;

  const target = async (): Promise<TestDatabase> => {
    const db = await createTestDatabase();
    targets.push(db);
    return db;
  };

  beforeAll(async () => {
    source = await createCliLedger();
    // Orders advanced in turns, so their streams interleave in $all; stock and audit streams written
    // together by multi-stream appends between them; a type the multi-stream append does not take.
    const placed = await Promise.all(Array.from({ length: 5 }, () => seedOrder(source.store, 0)));
    for (const [step, command] of lifecycle().entries()) {
      for (const { orderId } of placed.slice(step)) await handleOrderCommand(source.store, orderId, command, { context: { actor: admin } });
      const productId = randomUUID();
      const at = '2026-03-08T00:00:00.000Z';
      const stockMetadata = { schemaVersion: 1, actor: { type: 'admin', id: 'a1' } };
      await source.store.appendToStreams([
        {
          streamId: `stock-${productId}`,
          events: [
            { id: randomUUID(), type: 'StockTrackingStarted', data: { productId, startedAt: at }, metadata: stockMetadata },
            { id: randomUUID(), type: 'StockReceived', data: { productId, quantity: 5 + step, receivedAt: at }, metadata: stockMetadata },
          ],
          expectedRevision: 'no_stream',
        },
        {
          streamId: `audit-${randomUUID()}`,
          events: [
            { id: randomUUID(), type: 'Noted', data: { step } },
            { id: randomUUID(), type: 'Noted', data: { n: 1.5 } },
          ],
          expectedRevision: 'no_stream',
        },
      ]);
    }
    for (let i = 0; i < 4; i++)
      await seedOrder(source.store, i === 3 ? 1 : i, i === 3 ? [{ type: 'CancelOrder', data: { by: 'admin', reason: 'customer asked', now: '2026-03-09T00:00:00.000Z' } }] : []);
    await source.store.appendToStream(`audit-${randomUUID()}`, [{ id: randomUUID(), type: 'Manual note', data: { text: 'ü €' }, metadata: {} }], { expectedRevision: 'no_stream' });
    await projectAll(source);
    const run = await runCli(['events', 'export'], source.env);
    expect(run.code).toBe(0);
    exported = run.stdout;
    lineCount = parseLines(exported).length;
    expect(lineCount).toBe(await eventCount(source.db));
  });

  afterAll(async () => {
    await fake?.close();
    await Promise.all(targets.map((db) => db.drop()));
    await source.close();
  });

  it('when moving a PostgreSQL ledger to an empty PostgreSQL store, then the export of the target equals the source’s but for positions, and the rebuilt read models verify clean', async () => {
    const db = await target();
    const env = { DATABASE_URL: db.url };
    const imported = await runCli(['events', 'import', '--batch-size', '4'], env, { input: exported });
    expect(imported.code).toBe(0);
    expect(imported.stdout.trim()).toMatch(new RegExp(`^imported ${lineCount} event\\(s\\) of \\d+ stream\\(s\\) into the PostgreSQL event store in \\d+ append\\(s\\)$`));
    expect(imported.stderr).toMatch(new RegExp(`^import: ${lineCount} events$`, 'm'));

    const again = await runCli(['events', 'export'], env);
    expect(portable(again.stdout)).toEqual(portable(exported));

    await expectRebuiltLikeSource(env, db, source);
  });

  it('when moving it to KurrentDB (through the gRPC test server), then the export from there equals the source’s but for positions, and the rebuilt read models verify clean', async () => {
    fake = await startFakeEsdb();
    const db = await target();
    const env = { DATABASE_URL: db.url, EVENTSTORE_CONNECTION_STRING: fake.connectionString };
    const imported = await runCli(['events', 'import'], env, { input: exported });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(new RegExp(`^imported ${lineCount} event\\(s\\) of \\d+ stream\\(s\\) into the KurrentDB event store`));
    // Several streams per append: the server's multi-stream append carried most events.
    expect(fake.calls.appendSession).toBeGreaterThan(1);

    const again = await runCli(['events', 'export'], env);
    expect(again.code).toBe(0);
    expect(portable(again.stdout)).toEqual(portable(exported));
    expect(await eventCount(db)).toBe(0);

    await expectRebuiltLikeSource(env, db, source);
  });

  it('when the target already holds events, then it refuses in one line and writes nothing', async () => {
    const db = await target();
    const env = { DATABASE_URL: db.url };
    expect((await runCli(['events', 'import'], env, { input: exported.split('\n').slice(0, 3).join('\n') })).code).toBe(0);
    const run = await runCli(['events', 'import'], env, { input: exported });
    expect(expectOneLineFailure(run)).toMatch(
      /^order-ledger: the target event store is not empty \(it holds \S+ revision 0, among others\): import only into an empty store, or pass --resume/,
    );
    expect(await eventCount(db)).toBe(3);
  });

  it('when the import process is killed half-way, then --resume with the same export finishes it, each event once', async () => {
    const db = await target();
    const env = { DATABASE_URL: db.url };
    const lines = exported.split('\n').filter(Boolean);
    const half = Math.floor(lines.length * 0.6);
    const child = spawnTs('src/cli/main.ts', ['events', 'import', '--batch-size', '3'], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Only part of the export arrives and the input stays open: the process is mid-import when killed.
    child.stdin!.write(`${lines.slice(0, half).join('\n')}\n`);
    const deadline = Date.now() + 20_000;
    while ((await eventCount(db)) < half - 3) {
      if (Date.now() > deadline) throw new Error('the import did not get going');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await killAndConfirmGone(child)).toBe('SIGKILL');
    const stored = await eventCount(db);
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(lines.length);

    const resumed = await runCli(['events', 'import', '--resume', '--batch-size', '50'], env, { input: exported });
    expect(resumed.code).toBe(0);
    // Its chunks of 50 straddle the killed run's chunks of 3: part of one was already there.
    expect(resumed.stdout).toMatch(new RegExp(`^imported ${lineCount} event\\(s\\) .*; \\d+ were already there$`, 'm'));
    expect(await eventCount(db)).toBe(lines.length);
    expect(portable((await runCli(['events', 'export'], env)).stdout)).toEqual(portable(exported));
  });

  it('when an import into KurrentDB stopped part-way, then --resume with other batch sizes recognises what is there by id and appends the rest', async () => {
    const server = await startFakeEsdb();
    try {
      const db = await target();
      const env = { DATABASE_URL: db.url, EVENTSTORE_CONNECTION_STRING: server.connectionString };
      const lines = exported.split('\n').filter(Boolean);
      const part = Math.floor(lines.length / 2);
      expect((await runCli(['events', 'import', '--batch-size', '5'], env, { input: lines.slice(0, part).join('\n') })).code).toBe(0);
      const resumed = await runCli(['events', 'import', '--resume'], env, { input: exported });
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toMatch(/; \d+ were already there$/m);
      const again = await runCli(['events', 'import', '--resume', '--batch-size', '7'], env, { input: exported });
      expect(again.code).toBe(0);
      expect(portable((await runCli(['events', 'export'], env)).stdout)).toEqual(portable(exported));
    } finally {
      await server.close();
    }
  });

  it.each([
    ['a line that is not JSON', () => `${exported.split('\n')[0]}\n{oops\n`, /^order-ledger: line 2: not JSON/],
    ['a line that is not an exported event', () => '{"streamId":"order-1"}\n', /^order-ledger: line 1: position: /],
    [
      'a partial export (--from)',
      () => exported.split('\n').slice(5).join('\n'),
      /^order-ledger: line \d+: \S+ is at revision no_stream in the target, but the export continues it at revision [1-9]\d*/,
    ],
  ])('when given %s, then it stops with one line naming it', async (_name, input, message) => {
    const db = await target();
    const run = await runCli(['events', 'import'], { DATABASE_URL: db.url }, { input: input() });
    expect(expectOneLineFailure(run)).toMatch(message);
  });
});

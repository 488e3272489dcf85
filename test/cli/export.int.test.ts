import type { RecordedEvent } from '../../src/infra/eventstore/eventStore';
import { spawnTs } from '../support/childProcesses';
import { createCliLedger, parseExportedLines as parseLines, runCli, seedOrder, type CliLedger, type ExportedLine } from './cliHarness';

const asLine = (e: RecordedEvent): ExportedLine => ({
  position: e.position.toString(),
  streamId: e.streamId,
  revision: e.revision.toString(),
  id: e.id,
  type: e.type,
  data: e.data,
  metadata: e.metadata,
  createdAt: e.createdAt,
});

describe('order-ledger events export', () => {
  let ledger: CliLedger;
  let all: RecordedEvent[];
  let orderId: string;

  beforeAll(async () => {
    ledger = await createCliLedger();
    for (let i = 0; i < 8; i++) orderId = (await seedOrder(ledger.store, i % 5)).orderId;
    await ledger.store.appendToStream('audit-7', [{ id: 'a9e6f0d2-3c4b-4d5e-8f60-718293a4b5c6', type: 'Noted', data: { big: 'ü'.repeat(10), n: 1.5 } }], {
      expectedRevision: 'no_stream',
    });
    // $all readers stop below the oldest open transaction in the cluster; wait until ours are all visible.
    const deadline = Date.now() + 10_000;
    do {
      all = await ledger.store.readAll({ limit: 10_000 });
      const stored = (await ledger.db.knex('events').count({ n: '*' }).first()) as { n: string };
      if (all.length === Number(stored.n)) break;
      await new Promise((r) => setTimeout(r, 20));
    } while (Date.now() < deadline);
  });

  afterAll(async () => {
    await ledger.close();
  });

  it('when exporting $all in small pages, then the lines round-trip to exactly what readAll returns', async () => {
    const run = await runCli(['events', 'export', '--batch-size', '3'], ledger.env);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(parseLines(run.stdout)).toEqual(all.map(asLine));
  });

  it('when exporting one stream, then only its events come out, in revision order', async () => {
    const run = await runCli(['events', 'export', '--stream', `order-${orderId}`, '--batch-size', '2'], ledger.env);
    expect(run.code).toBe(0);
    const expected = all.filter((e) => e.streamId === `order-${orderId}`).map(asLine);
    expect(expected.length).toBeGreaterThan(2);
    expect(parseLines(run.stdout)).toEqual(expected);
    const byOrderId = await runCli(['events', 'export', '--stream', orderId], ledger.env);
    expect(parseLines(byOrderId.stdout)).toEqual(expected);
  });

  it('when exporting from a position, then it starts at that event', async () => {
    const from = all[10]!.position.toString();
    const run = await runCli(['events', 'export', '--from', from], ledger.env);
    expect(run.code).toBe(0);
    expect(parseLines(run.stdout)).toEqual(all.slice(10).map(asLine));
  });

  it('when the reader stops early, then the export ends quietly', async () => {
    // `order-ledger events export | head -1`: the pipe closes under the writer.
    const child = spawnTs('src/cli/main.ts', ['events', 'export', '--batch-size', '1'], {
      env: { ...process.env, ...ledger.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.once('data', () => child.stdout!.destroy());
    // 'close', not 'exit': stderr is read to the end.
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('when the position is not a number, then it fails with one line', async () => {
    const run = await runCli(['events', 'export', '--from', 'start'], ledger.env);
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual(["error: option '--from <position>' argument 'start' is invalid. expected a non-negative integer"]);
  });
});

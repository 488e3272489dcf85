import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { cpuProfArgs } from './httpApi';
import { bearer, createAppFixture } from './lib/appFixture';
import { build } from './lib/build';
import { onInterrupt, readMemory, REPO_ROOT } from './lib/childServer';
import { load } from './lib/load';
import type { Figure } from './lib/report';
import { seededEvents } from './lib/sharedSeed';

const EXPORT_TARGET_MB = 150;
const TIME = '/usr/bin/time';

const round = (n: number): number => Number(n.toFixed(1));

/** Figure 6a: the app process's RSS while and after `orders` orders are placed through POST /orders. */
async function apiMemory(quick: boolean): Promise<Figure[]> {
  const orders = quick ? 10_000 : 100_000;
  // Bounded in time as well as count: on a busy machine the figure reports fewer orders rather than overrun.
  const budgetSeconds = quick ? 25 : 200;
  const fixture = await createAppFixture('memory');
  try {
    const user = await fixture.user('buyer');
    const app = await fixture.startApp({ nodeArgs: cpuProfArgs('memory') });
    await new Promise((r) => setTimeout(r, 1000));
    const idle = app.memory()!;
    const started = Date.now();
    const timeline: number[] = [];
    let halfway: number | undefined;
    // One continuous run; RSS is read as each tenth of the orders is answered.
    const result = await load({
      url: `${app.url}/orders`,
      method: 'POST',
      headers: bearer(user),
      body: { items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' },
      connections: 32,
      amount: orders,
      onResponse: (responses) => {
        if (responses % (orders / 10) === 0) {
          const rss = app.memory()?.rssMb ?? 0;
          timeline.push(Math.round(rss));
          if (responses === orders / 2) halfway = rss;
        }
        return (Date.now() - started) / 1000 > budgetSeconds ? 'stop' : undefined;
      },
    });
    const failed = result.failed;
    const seconds = (Date.now() - started) / 1000;
    const after = app.memory()!;
    // Let queued work (email jobs, pushes) run for a moment, then read again.
    await new Promise((r) => setTimeout(r, quick ? 1000 : 3000));
    const settled = app.memory()!;
    const placed = Number(((await fixture.db.knex('orders').count({ n: '*' }).first()) as { n: string }).n);
    process.stderr.write(
      `[bench]   ${placed} orders in ${round(seconds)} s: RSS idle ${round(idle.rssMb)} MB, after each tenth [${timeline.join(', ')}] MB, settled ${round(settled.rssMb)} MB, peak ${round(after.hwmMb)} MB${failed ? `, ${failed} failed` : ''}\n`,
    );
    const context = {
      orders: placed,
      failedRequests: failed,
      seconds: round(seconds),
      ordersPerSecond: Math.round(placed / seconds),
      idleRssMb: round(idle.rssMb),
      settledRssMb: round(settled.rssMb),
      rssAfterEachTenthMb: timeline.join(' '),
      runtime: `${(await build()).app.runtime}, ROLES=api,projector,notifier,worker`,
    };
    return [
      {
        name: `6 API process RSS after ${placed.toLocaleString('en-US')} orders`,
        unit: 'MB',
        ours: after.rssMb,
        ...(halfway !== undefined ? { reference: { label: 'RSS half-way', value: halfway } } : {}),
        target: placed < orders ? `context (time budget: ${placed} of ${orders})` : 'context (ratio = 2nd-half growth)',
        extra: context,
      },
      {
        name: '6 API process peak RSS (VmHWM)',
        unit: 'MB',
        ours: after.hwmMb,
        reference: { label: 'RSS at idle', value: idle.rssMb },
        target: 'context',
      },
    ];
  } finally {
    await fixture.close();
  }
}

interface ExportRun {
  lines: number;
  bytes: number;
  seconds: number;
  /** Peak RSS: ru_maxrss from /usr/bin/time -v when available, else the highest VmHWM polled. */
  peakMb: number;
  polledPeakMb: number;
}

/** Runs `order-ledger events export` (from source, one process) with stdout drained here. */
async function runExport(databaseUrl: string, args: string[]): Promise<ExportRun> {
  const useTime = fs.existsSync(TIME);
  const node = [process.execPath, ...(await build()).cli.args, 'events', 'export', ...args];
  const [command, ...rest] = useTime ? [TIME, '-v', ...node] : node;
  const started = process.hrtime.bigint();
  // Its own process group: with /usr/bin/time the exporter is time's child, and killing time alone
  // would leave the exporter running.
  const child = spawn(command!, rest, {
    cwd: REPO_ROOT,
    env: { ...process.env, ENV_FILE: 'none', DATABASE_URL: databaseUrl, EVENTSTORE_CONNECTION_STRING: '', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  const unregister = onInterrupt(async () => kill());
  const timer = setTimeout(kill, 10 * 60_000);
  let lines = 0;
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  // With /usr/bin/time the node process is the child's child: poll the whole tree's node process.
  let polledPeakMb = 0;
  const poller = setInterval(() => {
    const pid = useTime ? childPid(child.pid!) : child.pid!;
    if (pid !== undefined) polledPeakMb = Math.max(polledPeakMb, readMemory(pid)?.hwmMb ?? 0);
  }, 50);
  try {
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`events export exited with ${code}:\n${stderr}`);
    const maxRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
    return { lines, bytes, seconds, peakMb: maxRss ? Number(maxRss[1]) / 1024 : polledPeakMb, polledPeakMb };
  } finally {
    clearInterval(poller);
    clearTimeout(timer);
    kill();
    unregister();
  }
}

function childPid(parent: number): number | undefined {
  try {
    const children = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Figure 6b: `events export` of `total` events stays under 150 MB; the reference is the same command exporting one stream. */
async function exportMemory(quick: boolean): Promise<Figure[]> {
  const total = quick ? 100_000 : 1_000_000;
  // The same seeded database as the projection rebuild figure, when both run.
  const { db, seedSeconds, shared } = await seededEvents(total);
  const stream = ((await db.knex('events').first('stream_id')) as { stream_id: string }).stream_id;
  const floor = await runExport(db.url, ['--stream', stream]);
  const all = await runExport(db.url, []);
  if (all.lines !== total) throw new Error(`export wrote ${all.lines} lines, expected ${total}`);
  process.stderr.write(
    `[bench]   export of ${all.lines} events: ${round(all.seconds)} s, ${Math.round(all.lines / all.seconds)} events/s, ${Math.round(all.bytes / 2 ** 20)} MiB, peak RSS ${round(all.peakMb)} MB (one stream: ${round(floor.peakMb)} MB)\n`,
  );
  return [
    {
      name: `6 events export peak RSS (${total.toLocaleString('en-US')} events)`,
      unit: 'MB',
      ours: all.peakMb,
      reference: { label: 'export of one stream', value: floor.peakMb },
      target: `<${EXPORT_TARGET_MB} MB`,
      met: all.peakMb < EXPORT_TARGET_MB,
      extra: {
        events: all.lines,
        mebibytes: Math.round(all.bytes / 2 ** 20),
        seconds: round(all.seconds),
        eventsPerSecond: Math.round(all.lines / all.seconds),
        polledPeakMb: round(all.polledPeakMb),
        seedSeconds: round(seedSeconds),
        seedShared: shared ? 'yes' : 'no',
        runtime: 'node --import tsx src/cli/main.ts',
      },
    },
  ];
}

/** Figure 6: memory of the API process under sustained orders, and of a full export. */
export async function benchMemory(quick: boolean): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const part of [apiMemory, exportMemory]) {
    try {
      figures.push(...(await part(quick)));
    } catch (error) {
      process.stderr.write(`[bench] memory: ${part.name} failed: ${(error as Error).stack ?? String(error)}\n`);
      figures.push({ name: `6 ${part.name} (failed)`, unit: '', ours: 0, extra: { error: (error as Error).message } });
    }
  }
  return figures;
}

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { onInterrupt } from './lib/childServer';
import type { Figure } from './lib/report';
import { seededEvents } from './lib/sharedSeed';

const run = promisify(execFile);

/** Figure 3: rebuild of both read models from position 0, events/s and the rebuilding process's peak RSS. */
export async function benchRebuild(quick: boolean): Promise<Figure[]> {
  const total = quick ? 100_000 : 1_000_000;
  // Shared with the export figure; the rebuild writes read models only, never events.
  const { db, seedSeconds } = await seededEvents(total);
  await db.knex.raw('truncate orders, order_history; delete from projection_checkpoints');
  // `node --import tsx`, not the tsx CLI: the pid killed on timeout or interrupt is the worker's own.
  const worker = run(process.execPath, ['--import', 'tsx', path.join(__dirname, 'rebuildWorker.ts')], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, DATABASE_URL: db.url },
    killSignal: 'SIGKILL',
    timeout: 20 * 60_000,
    maxBuffer: 1 << 20,
  });
  const unregister = onInterrupt(async () => {
    worker.child.kill('SIGKILL');
  });
  let stdout: string;
  try {
    stdout = (await worker).stdout;
  } finally {
    unregister();
  }
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { events: number; seconds: number; maxRssMb: number };
  return [
    {
      name: `3 projection rebuild (${result.events.toLocaleString('en-US')} events)`,
      unit: 'events/s',
      ours: result.events / result.seconds,
      target: 'context',
      extra: { seconds: Number(result.seconds.toFixed(1)), peakRssMb: Math.round(result.maxRssMb), seedEventsPerSecond: Math.round(total / seedSeconds) },
    },
    {
      name: '3 projection rebuild peak RSS',
      unit: 'MB',
      ours: result.maxRssMb,
      target: 'context',
    },
  ];
}

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import { createBenchDatabase } from './lib/benchDb';
import { seedOrderEvents } from './lib/seedOrders';
import type { Figure } from './lib/report';

const run = promisify(execFile);

/** Figure 3: rebuild of both read models from position 0, events/s and the rebuilding process's peak RSS. */
export async function benchRebuild(quick: boolean): Promise<Figure[]> {
  const total = quick ? 100_000 : 1_000_000;
  const db = await createBenchDatabase('rebuild');
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 16 });
  try {
    const seedStarted = Date.now();
    await seedOrderEvents(store, total);
    await db.knex.raw('vacuum analyze events');
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    const { stdout } = await run(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'rebuildWorker.ts')], {
      env: { ...process.env, DATABASE_URL: db.url },
      timeout: 20 * 60_000,
      maxBuffer: 1 << 20,
    });
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
  } finally {
    await store.close();
    await db.drop();
  }
}

import os from 'node:os';
import { benchAppend } from './eventStoreAppend';
import { benchCatchUp } from './catchUpRead';
import { benchRebuild } from './projectionRebuild';
import { benchHttp } from './httpApi';
import { benchEndToEnd } from './endToEnd';
import { benchMemory } from './memory';
import { benchSocketFlood } from './socketFlood';
import { benchAuthCheck } from './authCheck';
import { benchMetricsOverhead } from './metricsOverhead';
import { benchStockOrders } from './stockOrders';
import { benchTracingOverhead } from './tracingOverhead';
import { benchPersonalData } from './personalData';
import { benchEmailCompose } from './emailCompose';
import { printTable, writeResults, type BenchRun, type Figure } from './lib/report';
import { dropSeededDatabases } from './lib/sharedSeed';
import { removeBuild } from './lib/build';

type Bench = { name: string; run: (quick: boolean) => Promise<Figure[]> };

/** Every benchmark, in order. Each prints as it finishes; the table and JSON come at the end. */
const benches: Bench[] = [
  { name: 'event-store append', run: benchAppend },
  { name: 'catch-up read', run: benchCatchUp },
  { name: 'projection rebuild', run: benchRebuild },
  { name: 'http api', run: benchHttp },
  { name: 'e2e latency', run: benchEndToEnd },
  { name: 'memory', run: benchMemory },
  { name: 'socket flood', run: benchSocketFlood },
  { name: 'auth check', run: benchAuthCheck },
  { name: 'metrics overhead', run: benchMetricsOverhead },
  { name: 'stock orders', run: benchStockOrders },
  { name: 'tracing overhead', run: benchTracingOverhead },
  { name: 'personal data', run: benchPersonalData },
  { name: 'email compose', run: benchEmailCompose },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const run: BenchRun = {
    startedAt: new Date().toISOString(),
    quick,
    machine: { cpus: os.cpus().length, node: process.version, totalMemoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    figures: [],
  };
  const runStarted = Date.now();
  const selected = benches.filter((bench) => !only || bench.name.includes(only));
  try {
    for (const bench of selected) {
      const started = Date.now();
      process.stderr.write(`[bench] ${bench.name}…\n`);
      try {
        run.figures.push(...(await bench.run(quick)));
      } catch (error) {
        process.stderr.write(`[bench] ${bench.name} failed: ${(error as Error).stack ?? String(error)}\n`);
        run.figures.push({ name: `${bench.name} (failed)`, unit: '', ours: 0, extra: { error: (error as Error).message } });
      }
      process.stderr.write(`[bench] ${bench.name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await dropSeededDatabases();
    removeBuild();
  }
  run.seconds = Math.round((Date.now() - runStarted) / 1000);
  process.stderr.write(`[bench] all done in ${run.seconds} s\n`);
  printTable(run.figures);
  console.log(`results: ${writeResults(run)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

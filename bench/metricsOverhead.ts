import { build } from './lib/build';
import { startChild, type ChildServer } from './lib/childServer';
import { load, type LoadResult } from './lib/load';
import type { Figure } from './lib/report';

const CONNECTIONS = 32;

/**
 * Figure 9: what the HTTP metrics middleware costs a request. The constant Express server of figure 4
 * (the cheapest handler there is, so the share is an upper bound for any real route) with the app's
 * middleware and without it, GET /constant at 32 connections, runs of 2 s in A B B A order (twice in
 * a full run) so drift in machine load hits both alike. CPU per request is the steadier measure on
 * a shared machine.
 */
export async function benchMetricsOverhead(quick: boolean): Promise<Figure[]> {
  const seconds = 2;
  const order = quick ? 'ABBA' : 'ABBAABBA';
  const servers: ChildServer[] = [];
  try {
    const { constantServer } = await build();
    const [withMetrics, without] = await Promise.all([
      startChild({ label: 'constant server with metrics', args: constantServer.args, env: { NODE_ENV: 'production', BENCH_HTTP_METRICS: '1' }, readyPath: '/health' }),
      startChild({ label: 'constant server', args: constantServer.args, env: { NODE_ENV: 'production' }, readyPath: '/health' }),
    ]);
    servers.push(withMetrics, without);
    const get = (server: ChildServer) => (durationSeconds: number) => load({ url: `${server.url}/constant`, connections: CONNECTIONS, durationSeconds });
    await get(withMetrics)(1); // warm-up: JIT
    await get(without)(1);
    const runs: Array<[string, LoadResult & { cpuSeconds: number }]> = [];
    for (const letter of order) {
      const [label, server] = letter === 'A' ? (['metrics', withMetrics] as const) : (['plain', without] as const);
      const cpuBefore = server.cpuSeconds() ?? 0;
      const result = await get(server)(seconds);
      const cpuSeconds = (server.cpuSeconds() ?? 0) - cpuBefore;
      runs.push([label, { ...result, cpuSeconds }]);
      process.stderr.write(
        `[bench]   ${label}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms, CPU ${((1e6 * cpuSeconds) / Math.max(1, result.total)).toFixed(1)} µs/req\n`,
      );
    }
    const sum = (label: string, field: 'total' | 'seconds' | 'cpuSeconds'): number => runs.filter(([l]) => l === label).reduce((total, [, r]) => total + r[field], 0);
    const rate = (label: string): number => sum(label, 'total') / sum(label, 'seconds');
    const cpuMicros = (label: string): number => Number(((1e6 * sum(label, 'cpuSeconds')) / Math.max(1, sum(label, 'total'))).toFixed(1));
    const failed = runs.reduce((total, [, r]) => total + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} requests failed`);
    return [
      {
        name: `9 GET /constant c${CONNECTIONS} with the HTTP metrics middleware`,
        unit: 'req/s',
        ours: rate('metrics'),
        reference: { label: 'without it', value: rate('plain') },
        target: 'ratio reported',
        extra: {
          seconds,
          runs: order,
          cpuMicrosPerRequest: cpuMicros('metrics'),
          referenceCpuMicrosPerRequest: cpuMicros('plain'),
          overheadMicrosPerRequest: Number((cpuMicros('metrics') - cpuMicros('plain')).toFixed(1)),
        },
      },
    ];
  } finally {
    for (const server of servers) await server.stop();
  }
}

import { bearer, createAppFixture, type AppFixture, type BenchUser } from './lib/appFixture';
import type { ChildServer } from './lib/childServer';
import { load, type LoadResult } from './lib/load';
import type { Figure } from './lib/report';

const CONNECTIONS = 32;

/**
 * Waits (at most 10 s) until neither app uses more than a twentieth of a core: each placed order
 * leaves work behind (projection, pushes, email jobs), which must not land on the next run.
 */
async function quiesce(servers: ChildServer[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const before = servers.map((s) => s.cpuSeconds() ?? 0);
    await new Promise((r) => setTimeout(r, 250));
    if (servers.every((s, i) => (s.cpuSeconds() ?? 0) - before[i]! < 0.25 * 0.05)) return;
  }
}

/**
 * Figure 8: what the per-request account check costs. POST /orders (MANUAL) at 32 connections
 * against the app, and against the same build taking valid tokens at their word
 * (bench/claimsOnlyServer.ts: the API before accounts were checked). Each runs every role on a
 * database of its own, so the two differ only in the check. Runs of 2 s go A B B A (twice in a
 * full run) so drift in machine load hits both alike, each once both apps have finished the work
 * the previous run left.
 */
export async function benchAuthCheck(quick: boolean): Promise<Figure[]> {
  const seconds = 2;
  // Short runs, alternated many times: other work on a shared machine comes in bursts of seconds.
  const order = quick ? 'ABBA' : 'ABBAABBA';
  const fixtures: AppFixture[] = [];
  try {
    fixtures.push(await createAppFixture('auth'), await createAppFixture('authref'));
    const [checkedFixture, claimsFixture] = fixtures as [AppFixture, AppFixture];
    const [checkedWriter, claimsWriter] = await Promise.all([checkedFixture.user('writer'), claimsFixture.user('writer')]);
    const [checked, claimsOnly] = await Promise.all([checkedFixture.startApp(), claimsFixture.startApp({ entry: 'claimsOnlyApp' })]);
    const post = (server: ChildServer, fixture: AppFixture, user: BenchUser) => (durationSeconds: number) =>
      load({
        url: `${server.url}/orders`,
        method: 'POST',
        headers: bearer(user),
        body: { items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' },
        connections: CONNECTIONS,
        durationSeconds,
      });
    const withCheck = post(checked, checkedFixture, checkedWriter);
    const claimsOnlyRun = post(claimsOnly, claimsFixture, claimsWriter);
    await withCheck(quick ? 1 : 2); // warm-up: JIT, pools, the account cache
    await claimsOnlyRun(quick ? 1 : 2);
    // CPU per request is steadier than throughput on a machine others share: it counts the app's
    // own work, whoever else wants the cores.
    const runs: Array<[string, LoadResult & { cpuSeconds: number }]> = [];
    for (const letter of order) {
      const [label, run, server] = letter === 'A' ? (['checked', withCheck, checked] as const) : (['claims only', claimsOnlyRun, claimsOnly] as const);
      await quiesce([checked, claimsOnly]);
      const cpuBefore = server.cpuSeconds() ?? 0;
      const result = await run(seconds);
      const cpuSeconds = (server.cpuSeconds() ?? 0) - cpuBefore;
      runs.push([label, { ...result, cpuSeconds }]);
      process.stderr.write(
        `[bench]   ${label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, app CPU ${((1000 * cpuSeconds) / Math.max(1, result.total)).toFixed(2)} ms/req${result.failed ? `, ${result.failed} failed` : ''}\n`,
      );
    }
    const sum = (label: string, field: 'total' | 'seconds' | 'cpuSeconds'): number => runs.filter(([l]) => l === label).reduce((total, [, r]) => total + r[field], 0);
    const rate = (label: string): number => sum(label, 'total') / sum(label, 'seconds');
    const cpuMsPerRequest = (label: string): number => Number(((1000 * sum(label, 'cpuSeconds')) / Math.max(1, sum(label, 'total'))).toFixed(3));
    const failed = runs.reduce((sum, [, r]) => sum + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} POST /orders failed (non-2xx, errors or timeouts)`);
    return [
      {
        name: `8 POST /orders (MANUAL) c${CONNECTIONS} with the per-request account check`,
        unit: 'req/s',
        ours: rate('checked'),
        reference: { label: 'token claims only', value: rate('claims only') },
        target: 'ratio reported (≈1)',
        extra: {
          seconds,
          runs: order,
          appCpuMsPerRequest: cpuMsPerRequest('checked'),
          claimsOnlyCpuMsPerRequest: cpuMsPerRequest('claims only'),
          p99Ms: Math.max(...runs.filter(([l]) => l === 'checked').map(([, r]) => r.p99Ms)),
        },
      },
    ];
  } finally {
    for (const fixture of fixtures) await fixture.close();
  }
}

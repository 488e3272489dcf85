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
    const runs: Array<[string, LoadResult]> = [];
    for (const letter of order) {
      const [label, run] = letter === 'A' ? (['checked', withCheck] as const) : (['claims only', claimsOnlyRun] as const);
      await quiesce([checked, claimsOnly]);
      const result = await run(seconds);
      runs.push([label, result]);
      process.stderr.write(`[bench]   ${label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${result.failed ? `, ${result.failed} failed` : ''}\n`);
    }
    const rate = (label: string): number => {
      const mine = runs.filter(([l]) => l === label).map(([, r]) => r);
      return mine.reduce((sum, r) => sum + r.total, 0) / mine.reduce((sum, r) => sum + r.seconds, 0);
    };
    const failed = runs.reduce((sum, [, r]) => sum + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} POST /orders failed (non-2xx, errors or timeouts)`);
    return [
      {
        name: `8 POST /orders (MANUAL) c${CONNECTIONS} with the per-request account check`,
        unit: 'req/s',
        ours: rate('checked'),
        reference: { label: 'token claims only', value: rate('claims only') },
        target: 'ratio reported (≈1)',
        extra: { seconds, runs: order, p99Ms: Math.max(...runs.filter(([l]) => l === 'checked').map(([, r]) => r.p99Ms)) },
      },
    ];
  } finally {
    for (const fixture of fixtures) await fixture.close();
  }
}

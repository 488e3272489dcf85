import { createAppFixture, bearer, type BenchUser } from './lib/appFixture';
import { build } from './lib/build';
import { backendCpuDelta, backendCpuSeconds, startChild, type ChildServer } from './lib/childServer';
import { load, type LoadResult } from './lib/load';
import { median, type Figure } from './lib/report';
import type { Knex } from '../src/infra/db/knex';

const CONNECTIONS = 32;
const USER_ORDERS = 1000;

/**
 * The orders read model holds `total` rows from one INSERT … SELECT: `USER_ORDERS` of them belong
 * to `userId`, spread evenly through time; the rest to 50,000 other users.
 */
export async function seedOrderRows(knex: Knex, total: number, userId: string, productId: string): Promise<void> {
  const every = Math.floor(total / USER_ORDERS);
  const items = JSON.stringify([{ productId, sku: 'SKU-BENCH', name: 'Bench widget', quantity: 1, unitAmount: 1999, lineAmount: 1999 }]);
  await knex.raw(
    `insert into orders (id, user_id, status, items, total_amount, currency, payment_method, payment_status,
                         payment_provider, payment_reference, refunded_amount, revision, position, placed_at, updated_at)
     select gen_random_uuid(),
            case when g % ? = 0 then ?::uuid
                 else ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50000), 12, '0'))::uuid end,
            (array['PENDING','PAID','PROCESSING','SHIPPED','DELIVERED'])[1 + g % 5],
            ?::jsonb, 1999, 'USD', 'MANUAL',
            case when g % 5 = 0 then 'PENDING' else 'SUCCEEDED' end,
            case when g % 5 = 0 then null else 'MANUAL' end,
            null, 0, g % 5, g,
            timestamptz '2026-01-01' + g * interval '1 second',
            timestamptz '2026-01-01' + g * interval '1 second'
     from generate_series(1, ?) as g`,
    [every, userId, items, total],
  );
  await knex.raw('vacuum analyze orders');
}

/** A load run plus the CPU the server and the bench database's PostgreSQL backends spent per answered request. */
interface Measured extends LoadResult {
  serverCpuMsPerRequest: number;
  postgresCpuMsPerRequest: number;
}

interface Run {
  ceilingGet: Measured[];
  oursGet: Measured[];
  ceilingPost: Measured[];
  oursPost: Measured[];
}

async function measured(server: ChildServer, knex: Knex, run: () => Promise<LoadResult>): Promise<Measured> {
  const serverBefore = server.cpuSeconds() ?? 0;
  const postgresBefore = await backendCpuSeconds(knex);
  const result = await run();
  const serverAfter = server.cpuSeconds() ?? 0;
  const postgresAfter = await backendCpuSeconds(knex);
  const perRequest = (seconds: number): number => Number(((1000 * seconds) / Math.max(1, result.total)).toFixed(3));
  return {
    ...result,
    serverCpuMsPerRequest: perRequest(serverAfter - serverBefore),
    postgresCpuMsPerRequest: perRequest(backendCpuDelta(postgresBefore, postgresAfter)),
  };
}

function best<T extends LoadResult>(results: T[]): T {
  const rps = median(results.map((r) => r.requestsPerSecond));
  return results.find((r) => r.requestsPerSecond === rps) ?? results[0]!;
}

/**
 * Figure 4: requests/s and latency of POST /orders (MANUAL) and GET /orders?page=1&limit=20 for a
 * user with 1,000 orders among `total`, at 32 connections from autocannon in this process against
 * the app in a child process; the ceiling is Express 5 answering a constant JSON body, set up the
 * same way. Runs are interleaved ceiling/ours so drift in machine load hits both.
 */
export async function benchHttp(quick: boolean): Promise<Figure[]> {
  const total = quick ? 100_000 : 1_000_000;
  const warmupSeconds = quick ? 1 : 2;
  const seconds = quick ? 4 : 10;
  const rounds = 1;
  const fixture = await createAppFixture('http');
  let constant: ChildServer | undefined;
  try {
    const reader = await fixture.user('reader');
    const writer = await fixture.user('writer');
    const seedStarted = Date.now();
    // The app never touches the seeded rows, so it starts while they are written.
    const starts = [
      fixture.startApp({ nodeArgs: cpuProfArgs('http') }),
      build()
        .then((b) => startChild({ label: 'constant server', args: b.constantServer.args, env: { NODE_ENV: 'production' } }))
        .then((c) => {
        constant = c; // stopped in finally even if the app fails to start
        return c;
      }),
      seedOrderRows(fixture.db.knex, total, reader.id, fixture.productId),
    ] as const;
    await Promise.allSettled(starts);
    const [app, ceiling] = await Promise.all(starts);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    const rows = Number(((await fixture.db.knex('orders').count({ n: '*' }).first()) as { n: string }).n);
    const own = Number(((await fixture.db.knex('orders').where('user_id', reader.id).count({ n: '*' }).first()) as { n: string }).n);
    if (own !== USER_ORDERS) throw new Error(`seeded ${own} orders for the reader, expected ${USER_ORDERS}`);

    const get = (server: ChildServer, user: BenchUser, route: string) => (durationSeconds: number) =>
      measured(server, fixture.db.knex, () => load({ url: `${server.url}${route}`, headers: bearer(user), connections: CONNECTIONS, durationSeconds }));
    const post = (server: ChildServer, user: BenchUser, route: string) => (durationSeconds: number) =>
      measured(server, fixture.db.knex, () => load({
        url: `${server.url}${route}`,
        method: 'POST',
        headers: bearer(user),
        body: { items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' },
        connections: CONNECTIONS,
        durationSeconds,
      }));
    const cases: Array<[keyof Run, (s: number) => Promise<Measured>]> = [
      ['ceilingGet', get(ceiling, reader, '/constant')],
      ['oursGet', get(app, reader, '/orders?page=1&limit=20')],
      ['ceilingPost', post(ceiling, writer, '/constant')],
      ['oursPost', post(app, writer, '/orders')],
    ];
    const runs: Run = { ceilingGet: [], oursGet: [], ceilingPost: [], oursPost: [] };
    // Warm-up (JIT, pools, caches) of our routes; the constant route needs none to speak of.
    for (const [key, run] of cases) if (key.startsWith('ours')) await run(warmupSeconds);
    for (let round = 0; round < rounds; round++) {
      for (const [key, run] of cases) {
        const result = await run(seconds);
        runs[key].push(result);
        process.stderr.write(
          `[bench]   ${key}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, server CPU ${result.serverCpuMsPerRequest} ms/req, postgres CPU ${result.postgresCpuMsPerRequest} ms/req${result.failed ? `, ${result.failed} failed` : ''}\n`,
        );
      }
    }
    const appMemory = app.memory();
    const figures: Figure[] = [];
    const context = { tableRows: rows, userOrders: own, connections: CONNECTIONS, seconds, seedSeconds: Number(seedSeconds.toFixed(1)) };
    for (const [label, oursKey, ceilingKey] of [
      ['GET /orders?page=1&limit=20', 'oursGet', 'ceilingGet'],
      ['POST /orders (MANUAL)', 'oursPost', 'ceilingPost'],
    ] as const) {
      const ours = best(runs[oursKey]);
      const ceil = best(runs[ceilingKey]);
      const failed = ours.failed + ceil.failed;
      figures.push(
        {
          name: `4 ${label} c${CONNECTIONS}`,
          unit: 'req/s',
          ours: ours.requestsPerSecond,
          reference: { label: 'express constant JSON', value: ceil.requestsPerSecond },
          target: 'ratio reported',
          extra: {
            ...context,
            failed,
            appCpuMsPerRequest: ours.serverCpuMsPerRequest,
            postgresCpuMsPerRequest: ours.postgresCpuMsPerRequest,
            ceilingCpuMsPerRequest: ceil.serverCpuMsPerRequest,
            ...(appMemory ? { appRssMb: Math.round(appMemory.rssMb) } : {}),
          },
        },
        {
          name: `4 ${label} p50 latency`,
          unit: 'ms',
          ours: ours.p50Ms,
          reference: { label: 'express constant JSON', value: ceil.p50Ms },
          target: 'context',
        },
        {
          name: `4 ${label} p99 latency`,
          unit: 'ms',
          ours: ours.p99Ms,
          reference: { label: 'express constant JSON', value: ceil.p99Ms },
          target: 'context',
          extra: { maxMs: ours.maxMs },
        },
      );
      if (failed > 0.01 * (ours.total + ceil.total)) throw new Error(`${label}: ${failed} requests failed (non-2xx, errors or timeouts)`);
    }
    return figures;
  } finally {
    await constant?.stop();
    await fixture.close();
  }
}

/** BENCH_CPU_PROF=<dir> profiles the app child of the named figure (`http`, `e2e`, `memory`). */
export function cpuProfArgs(figure: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  const which = process.env.BENCH_CPU_PROF_FIGURE;
  if (!dir || (which && which !== figure)) return [];
  // Default file names (CPU.<date>.<pid>.<thread>…): the tsx loader thread writes a profile of its own.
  return ['--cpu-prof', `--cpu-prof-dir=${dir}/${figure}`];
}

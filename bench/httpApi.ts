import { createAppFixture, bearer, type BenchUser } from './lib/appFixture';
import { build } from './lib/build';
import os from 'node:os';
import { BENCH_JWT_SECRET, backendCpuDelta, backendCpuSeconds as backendCpuSecondsOf, redisCommandCalls, redisCpuSeconds, startChild, type ChildServer } from './lib/childServer';
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
  /** Server + PostgreSQL backends + Redis, counted until the asynchronous work had drained (writes only). */
  drainedCpuMsPerRequest?: number;
  drainMs?: number;
  /** The drained CPU per request by process: the app, its PostgreSQL backends, Redis. */
  drainedCpuSplit?: { app: number; postgres: number; redis: number };
  /** Per request, drained: PostgreSQL transactions and rows of the bench database, Redis commands (whole server). */
  perRequestCounts?: Record<string, number>;
}

interface DatabaseCounters {
  xacts: number;
  inserted: number;
  updated: number;
  deleted: number;
  fetched: number;
}

async function databaseCounters(knex: Knex): Promise<DatabaseCounters> {
  // Counters reach pg_stat_database when a backend reports them (at most once a second while busy).
  // They are database-wide: the idle app's background work (polls, queue) counts in the minimal server's runs too.
  await knex.raw('select pg_stat_clear_snapshot()');
  const row = (await knex.raw(
    `select xact_commit + xact_rollback as xacts, tup_inserted as inserted, tup_updated as updated, tup_deleted as deleted, tup_fetched as fetched
       from pg_stat_database where datname = current_database()`,
  )) as { rows: Record<keyof DatabaseCounters, string>[] };
  const r = row.rows[0]!;
  return { xacts: Number(r.xacts), inserted: Number(r.inserted), updated: Number(r.updated), deleted: Number(r.deleted), fetched: Number(r.fetched) };
}

type CaseKey = 'ceilingGet' | 'oursGet' | 'minimalGet' | 'ceilingPost' | 'oursPost' | 'minimalPost';
type Run = Record<CaseKey, Measured[]>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the asynchronous work of the writes is done: every checkpoint (projector, notifier,
 * reactors) at the newest event, then the server's CPU quiet (under 10 % of a core over 300 ms:
 * email jobs, pushes). Bounded by 60 s.
 */
async function drain(server: ChildServer, knex: Knex): Promise<number> {
  const started = Date.now();
  const deadline = started + 60_000;
  for (;;) {
    const row = (await knex.raw(
      `select (select coalesce(max(position), 0) from events) as head,
              (select coalesce(min(position), -1) from projection_checkpoints) as low`,
    )) as { rows: { head: string; low: string }[] };
    if (BigInt(row.rows[0]!.low) >= BigInt(row.rows[0]!.head) || Date.now() > deadline) break;
    await sleep(50);
  }
  for (;;) {
    const before = server.cpuSeconds() ?? 0;
    await sleep(300);
    const used = (server.cpuSeconds() ?? 0) - before;
    if (used < 0.03 || Date.now() > deadline) break;
  }
  return Date.now() - started;
}

/** The minimal server's pool names itself: its backends and the app's share the bench database. */
const MINIMAL_APPLICATION = 'bench-minimal';

async function measured(server: ChildServer, knex: Knex, run: () => Promise<LoadResult>, drains?: (s: ChildServer) => Promise<number>): Promise<Measured> {
  const backendCpuSeconds = (db: Knex) => backendCpuSecondsOf(db, server.label === 'minimal server' ? { is: MINIMAL_APPLICATION } : { isNot: MINIMAL_APPLICATION });
  const serverBefore = server.cpuSeconds() ?? 0;
  const postgresBefore = await backendCpuSeconds(knex);
  const redisBefore = drains ? await redisCpuSeconds() : 0;
  const countersBefore = drains ? await databaseCounters(knex) : undefined;
  const commandsBefore = drains ? await redisCommandCalls() : undefined;
  const result = await run();
  const serverAfter = server.cpuSeconds() ?? 0;
  const postgresAfter = await backendCpuSeconds(knex);
  const perRequest = (seconds: number): number => Number(((1000 * seconds) / Math.max(1, result.total)).toFixed(3));
  const out: Measured = {
    ...result,
    serverCpuMsPerRequest: perRequest(serverAfter - serverBefore),
    postgresCpuMsPerRequest: perRequest(backendCpuDelta(postgresBefore, postgresAfter)),
  };
  if (drains) {
    out.drainMs = await drains(server);
    const serverDrained = server.cpuSeconds() ?? 0;
    const postgresDrained = await backendCpuSeconds(knex);
    const redisDrained = await redisCpuSeconds();
    // The drain's own idle wait (300 ms windows) is counted: it is below 10 % of a core by construction.
    out.drainedCpuMsPerRequest = perRequest(serverDrained - serverBefore + backendCpuDelta(postgresBefore, postgresDrained) + (redisDrained - redisBefore));
    out.drainedCpuSplit = {
      app: perRequest(serverDrained - serverBefore),
      postgres: perRequest(backendCpuDelta(postgresBefore, postgresDrained)),
      redis: perRequest(redisDrained - redisBefore),
    };
    await sleep(1100); // let every backend report its counters
    const countersAfter = await databaseCounters(knex);
    const commandsAfter = await redisCommandCalls();
    const per = (n: number): number => Number((n / Math.max(1, result.total)).toFixed(2));
    const counts: Record<string, number> = {};
    for (const key of Object.keys(countersAfter) as (keyof DatabaseCounters)[]) counts[`pg_${key}`] = per(countersAfter[key] - countersBefore![key]);
    let redisTotal = 0;
    const byCommand: [string, number][] = [];
    for (const [command, calls] of commandsAfter) {
      const delta = calls - (commandsBefore!.get(command) ?? 0);
      if (delta <= 0 || command === 'info') continue;
      redisTotal += delta;
      byCommand.push([command, delta]);
    }
    counts.redis_commands = per(redisTotal);
    for (const [command, delta] of byCommand.sort((a, b) => b[1] - a[1]).slice(0, 6)) counts[`redis_${command}`] = per(delta);
    out.perRequestCounts = counts;
  }
  return out;
}

function best<T extends LoadResult>(results: T[]): T {
  const rps = median(results.map((r) => r.requestsPerSecond));
  return results.find((r) => r.requestsPerSecond === rps) ?? results[0]!;
}

/** Ours over the reference round by round (each pair ran back to back): how far the rounds spread. */
function pairedRatios(ours: Measured[], reference: Measured[], pick: (m: Measured) => number): number[] {
  return ours.map((m, i) => Number((pick(m) / pick(reference[i]!)).toFixed(2)));
}

function medianOf(results: Measured[], pick: (m: Measured) => number | undefined): number {
  return median(results.map(pick).filter((v): v is number => v !== undefined));
}

/**
 * Figure 4: requests/s and latency of POST /orders (MANUAL) and GET /orders?page=1&limit=20 for a
 * user with 1,000 orders among `total`, at 32 connections from autocannon in this process against
 * the app in a child process. Two references, each in a child process started the same way: Express 5
 * answering a constant JSON body (the HTTP ceiling), and Express 5 + pg doing the least the route
 * needs (minimalServer.ts: one transaction inserting an event and upserting a read-model row; the
 * listing's own SQL). POST runs also count the CPU of every process (server, PostgreSQL backends,
 * Redis) until asynchronous work has drained, per order. Runs alternate ours/references, medians
 * over rounds, so drift in machine load hits all of them.
 */
export async function benchHttp(quick: boolean): Promise<Figure[]> {
  const total = quick ? 100_000 : 1_000_000;
  const warmupSeconds = quick ? 1 : 2;
  const seconds = quick ? 4 : 10;
  // Five rounds: on this 2-core VM one 10-second run can be 20 % off the next for the same server
  // (the host, not the code), and a median of three moved a ratio across its target between runs.
  const rounds = Number(process.env.BENCH_HTTP_ROUNDS ?? (quick ? 1 : 5));
  const fixture = await createAppFixture('http');
  let constant: ChildServer | undefined;
  let minimal: ChildServer | undefined;
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
      build()
        .then((b) =>
          startChild({ label: 'minimal server', args: b.minimalServer.args, env: { NODE_ENV: 'production', DATABASE_URL: fixture.db.url, JWT_SECRET: BENCH_JWT_SECRET } }),
        )
        .then((c) => {
          minimal = c;
          return c;
        }),
      seedOrderRows(fixture.db.knex, total, reader.id, fixture.productId),
    ] as const;
    await Promise.allSettled(starts);
    const [app, ceiling, floor] = await Promise.all(starts);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    const rows = Number(((await fixture.db.knex('orders').count({ n: '*' }).first()) as { n: string }).n);
    const own = Number(((await fixture.db.knex('orders').where('user_id', reader.id).count({ n: '*' }).first()) as { n: string }).n);
    if (own !== USER_ORDERS) throw new Error(`seeded ${own} orders for the reader, expected ${USER_ORDERS}`);

    const drainApp = (server: ChildServer): Promise<number> => drain(server, fixture.db.knex);
    const drainNothing = async (): Promise<number> => 0;
    const get = (server: ChildServer, user: BenchUser, route: string) => (durationSeconds: number) =>
      measured(server, fixture.db.knex, () => load({ url: `${server.url}${route}`, headers: bearer(user), connections: CONNECTIONS, durationSeconds }));
    const post = (server: ChildServer, user: BenchUser, route: string, drains: (s: ChildServer) => Promise<number>) => (durationSeconds: number) =>
      measured(
        server,
        fixture.db.knex,
        () =>
          load({
            url: `${server.url}${route}`,
            method: 'POST',
            headers: bearer(user),
            body: { items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' },
            connections: CONNECTIONS,
            durationSeconds,
          }),
        drains,
      );
    const cases: Array<[CaseKey, (s: number) => Promise<Measured>]> = [
      ['ceilingGet', get(ceiling, reader, '/constant')],
      ['oursGet', get(app, reader, '/orders?page=1&limit=20')],
      ['minimalGet', get(floor, reader, '/orders?page=1&limit=20')],
      ['ceilingPost', post(ceiling, writer, '/constant', drainNothing)],
      ['oursPost', post(app, writer, '/orders', drainApp)],
      ['minimalPost', post(floor, writer, '/orders', drainNothing)],
    ];
    const runs: Run = { ceilingGet: [], oursGet: [], minimalGet: [], ceilingPost: [], oursPost: [], minimalPost: [] };
    // Warm-up (JIT, pools, caches) of the routes that touch the database.
    for (const [key, run] of cases) if (!key.startsWith('ceiling')) await run(warmupSeconds);
    for (let round = 0; round < rounds; round++) {
      for (const [key, run] of cases) {
        const result = await run(seconds);
        runs[key].push(result);
        process.stderr.write(
          `[bench]   ${key}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, server CPU ${result.serverCpuMsPerRequest} ms/req, postgres CPU ${result.postgresCpuMsPerRequest} ms/req${result.drainedCpuMsPerRequest !== undefined ? `, drained CPU (all processes) ${result.drainedCpuMsPerRequest} ms/req after ${result.drainMs} ms drain ${JSON.stringify(result.drainedCpuSplit)}` : ''}${result.failed ? `, ${result.failed} failed` : ''}${result.perRequestCounts ? `\n[bench]     per request: ${JSON.stringify(result.perRequestCounts)}` : ''}\n`,
        );
      }
    }
    const appMemory = app.memory();
    const figures: Figure[] = [];
    const context = {
      tableRows: rows,
      userOrders: own,
      connections: CONNECTIONS,
      seconds,
      rounds,
      seedSeconds: Number(seedSeconds.toFixed(1)),
      loadAverage: os.loadavg()[0]!.toFixed(2),
    };
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
    figures.push(...minimalFigures(runs, context));
    return figures;
  } finally {
    await constant?.stop();
    await minimal?.stop();
    await fixture.close();
  }
}

/** Issue 19's targets: ours against the Express + pg minimal server, medians over the alternating rounds. */
function minimalFigures(runs: Run, context: Record<string, number | string>): Figure[] {
  const ratioOf = (a: number, b: number): number => Number((a / b).toFixed(2));
  const rps = (key: CaseKey): number => medianOf(runs[key], (m) => m.requestsPerSecond);
  const p99 = (key: CaseKey): number => medianOf(runs[key], (m) => m.p99Ms);
  const cpu = (key: CaseKey): number => medianOf(runs[key], (m) => m.drainedCpuMsPerRequest);
  const getRatio = ratioOf(rps('oursGet'), rps('minimalGet'));
  const postRatio = ratioOf(rps('oursPost'), rps('minimalPost'));
  const p99Ratio = ratioOf(p99('oursPost'), p99('minimalPost'));
  const cpuRatio = ratioOf(cpu('oursPost'), cpu('minimalPost'));
  for (const key of ['oursGet', 'minimalGet', 'oursPost', 'minimalPost'] as const) {
    const failed = runs[key].reduce((n, m) => n + m.failed, 0);
    const total = runs[key].reduce((n, m) => n + m.total, 0);
    if (failed > 0.01 * total) throw new Error(`${key}: ${failed} of ${total} requests failed (non-2xx, errors or timeouts)`);
  }
  return [
    {
      name: `4 GET /orders?page=1&limit=20 c${CONNECTIONS} vs minimal pg`,
      unit: 'req/s',
      ours: rps('oursGet'),
      reference: { label: 'express+pg same SQL', value: rps('minimalGet') },
      target: '≥ 0.5',
      met: getRatio >= 0.5,
      extra: { ...context, ratio: getRatio, oursP99Ms: p99('oursGet'), minimalP99Ms: p99('minimalGet') },
    },
    {
      name: `4 POST /orders (MANUAL) c${CONNECTIONS} vs minimal write`,
      unit: 'req/s',
      ours: rps('oursPost'),
      reference: { label: 'express+pg insert+upsert', value: rps('minimalPost') },
      target: '≥ 0.5',
      met: postRatio >= 0.5,
      extra: { ...context, ratio: postRatio, roundRatios: pairedRatios(runs.oursPost, runs.minimalPost, (m) => m.requestsPerSecond).join(' ') },
    },
    {
      name: `4 POST /orders (MANUAL) p99 vs minimal write`,
      unit: 'ms',
      ours: p99('oursPost'),
      reference: { label: 'express+pg insert+upsert', value: p99('minimalPost') },
      target: '≤ 2×',
      met: p99Ratio <= 2,
      extra: { ratio: p99Ratio, roundRatios: pairedRatios(runs.oursPost, runs.minimalPost, (m) => m.p99Ms).join(' ') },
    },
    {
      name: '4 CPU per order, all processes, drained',
      unit: 'ms',
      ours: cpu('oursPost'),
      reference: { label: 'express+pg insert+upsert', value: cpu('minimalPost') },
      target: '≤ 3×',
      met: cpuRatio <= 3,
      extra: {
        ratio: cpuRatio,
        drainMs: medianOf(runs.oursPost, (m) => m.drainMs),
        appCpuMsPerOrderUnderLoad: medianOf(runs.oursPost, (m) => m.serverCpuMsPerRequest),
        appCpuMsPerOrderDrained: medianOf(runs.oursPost, (m) => m.drainedCpuSplit?.app),
        postgresCpuMsPerOrderDrained: medianOf(runs.oursPost, (m) => m.drainedCpuSplit?.postgres),
        redisCpuMsPerOrderDrained: medianOf(runs.oursPost, (m) => m.drainedCpuSplit?.redis),
        postgresCpuMsPerOrderUnderLoad: medianOf(runs.oursPost, (m) => m.postgresCpuMsPerRequest),
        ...Object.fromEntries(Object.entries(best(runs.oursPost).perRequestCounts ?? {}).map(([k, v]) => [`oursPerOrder_${k}`, v])),
        ...Object.fromEntries(Object.entries(best(runs.minimalPost).perRequestCounts ?? {}).map(([k, v]) => [`minimalPerOrder_${k}`, v])),
      },
    },
  ];
}

/** BENCH_CPU_PROF=<dir> profiles the app child of the named figure (`http`, `e2e`, `memory`). */
export function cpuProfArgs(figure: string): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  const which = process.env.BENCH_CPU_PROF_FIGURE;
  if (!dir || (which && which !== figure)) return [];
  // Default file names (CPU.<date>.<pid>.<thread>…): the tsx loader thread writes a profile of its own.
  return ['--cpu-prof', `--cpu-prof-dir=${dir}/${figure}`];
}

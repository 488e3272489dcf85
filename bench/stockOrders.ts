import { randomUUID } from 'node:crypto';
import { handleStockCommand } from '../src/commands/stock/stockCommandHandler';
import { createProduct } from '../src/commands/products';
import { encodeStockEvent, stockStreamId } from '../src/events/stockCodec';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import { createAppFixture, bearer, type BenchUser } from './lib/appFixture';
import { load, type LoadResult } from './lib/load';
import { median, type Figure } from './lib/report';

const CONTENTION_CONNECTIONS = 32;
/** One connection per product pair: the cost of reserving, without buyers colliding. */
const SOLO_CONNECTIONS = 1;
const PLENTY = 100_000_000;
/** Events in each long-history product's stock stream before the runs (a product with a sales history). */
const LONG_HISTORY = 5_000;

/**
 * Figure: POST /orders (MANUAL) with two tracked lines against the same order with two untracked
 * lines, in the same run (stock read, decided and appended with the order in one multi-stream
 * append, versus one single-stream append); then the contention case, 32 connections buying the
 * same tracked product, against 32 connections buying an untracked one. Then 32 connections buying
 * one tracked product whose stream already holds 5,000 events, through an app with stock snapshots
 * (the default) against a second app on the same database with SNAPSHOT_EVERY=0 buying another such
 * product. Runs interleave so drift in machine load hits both sides.
 */
export async function benchStockOrders(quick: boolean): Promise<Figure[]> {
  const seconds = quick ? 4 : 10;
  const rounds = quick ? 1 : 2;
  const fixture = await createAppFixture('stock');
  let store: PostgresEventStore | undefined;
  try {
    const app = await fixture.startApp();
    const appWithoutSnapshots = await fixture.startApp({ env: { SNAPSHOT_EVERY: '0' } });
    store = new PostgresEventStore({ connectionString: fixture.db.url, poolMax: 2 });
    const product = async (tracked: boolean): Promise<string> => {
      const created = await createProduct(fixture.db.knex, { sku: `SKU-STOCK-${randomUUID().slice(0, 8)}`, name: 'Stock widget', unitAmount: 1999, currency: 'USD' }, new Date());
      if (tracked) {
        await handleStockCommand(store!, created.id, { type: 'ReceiveStock', data: { productId: created.id, quantity: PLENTY, now: new Date().toISOString() } });
      }
      return created.id;
    };
    const untracked = [await product(false), await product(false)];
    const tracked = [await product(true), await product(true)];
    const hotTracked = await product(true);
    const hotUntracked = await product(false);
    const withHistory = async (): Promise<string> => {
      const id = await product(true);
      const sales = Array.from({ length: (LONG_HISTORY - 2) / 2 }, (_, i) => {
        const orderId = randomUUID();
        const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
        return [
          encodeStockEvent({ type: 'StockReserved', data: { productId: id, orderId, quantity: 1, reservedAt: at } }, randomUUID()),
          encodeStockEvent({ type: 'StockCommitted', data: { productId: id, orderId, quantity: 1, committedAt: at } }, randomUUID()),
        ];
      }).flat();
      for (let from = 0; from < sales.length; from += 1000) {
        await store!.appendToStream(stockStreamId(id), sales.slice(from, from + 1000), { expectedRevision: BigInt(from + 1) });
      }
      return id;
    };
    const longSnapshotted = await withHistory();
    const longUnsnapshotted = await withHistory();
    const buyer: BenchUser = await fixture.user('stock-buyer');

    const post =
      (productIds: string[], connections: number, baseUrl = app.url) =>
      (durationSeconds: number): Promise<LoadResult> =>
        load({
          url: `${baseUrl}/orders`,
          method: 'POST',
          headers: bearer(buyer),
          body: { items: productIds.map((productId) => ({ productId, quantity: 1 })), paymentMethod: 'MANUAL' },
          connections,
          durationSeconds,
        });
    const cases = {
      untracked2: post(untracked, SOLO_CONNECTIONS),
      tracked2: post(tracked, SOLO_CONNECTIONS),
      hotUntracked: post([hotUntracked], CONTENTION_CONNECTIONS),
      hotTracked: post([hotTracked], CONTENTION_CONNECTIONS),
      longSnapshots: post([longSnapshotted], CONTENTION_CONNECTIONS),
      longNoSnapshots: post([longUnsnapshotted], CONTENTION_CONNECTIONS, appWithoutSnapshots.url),
    } as const;
    type Key = keyof typeof cases;
    const runs: Record<Key, LoadResult[]> = { untracked2: [], tracked2: [], hotUntracked: [], hotTracked: [], longSnapshots: [], longNoSnapshots: [] };
    for (const run of Object.values(cases)) await run(1); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [key, run] of Object.entries(cases) as Array<[Key, (s: number) => Promise<LoadResult>]>) {
        const result = await run(seconds);
        runs[key].push(result);
        process.stderr.write(
          `[bench]   ${key}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${result.failed ? `, ${result.failed} failed` : ''}\n`,
        );
      }
    }
    const best = (results: LoadResult[]): LoadResult => {
      const rps = median(results.map((r) => r.requestsPerSecond));
      return results.find((r) => r.requestsPerSecond === rps) ?? results[0]!;
    };
    const lengthOf = async (productId: string): Promise<number> => (await store!.readStream(stockStreamId(productId), { maxCount: 10_000_000 })).length;
    const streamLength = await lengthOf(hotTracked);
    const figure = (name: string, ours: LoadResult, reference: LoadResult, connections: number): Figure => ({
      name,
      unit: 'req/s',
      ours: ours.requestsPerSecond,
      reference: { label: 'same orders, untracked products', value: reference.requestsPerSecond },
      target: 'ratio reported',
      extra: {
        connections,
        seconds,
        p50Ms: ours.p50Ms,
        p99Ms: ours.p99Ms,
        referenceP50Ms: reference.p50Ms,
        failed: ours.failed,
        referenceFailed: reference.failed,
      },
    });
    return [
      figure(`stock POST /orders 2 tracked lines vs 2 untracked c${SOLO_CONNECTIONS}`, best(runs.tracked2), best(runs.untracked2), SOLO_CONNECTIONS),
      {
        ...figure(`stock POST /orders one hot tracked product vs untracked c${CONTENTION_CONNECTIONS}`, best(runs.hotTracked), best(runs.hotUntracked), CONTENTION_CONNECTIONS),
        extra: { ...figure('', best(runs.hotTracked), best(runs.hotUntracked), CONTENTION_CONNECTIONS).extra, hotStreamEventsAtEnd: streamLength },
      },
      {
        ...figure(
          `stock POST /orders one tracked product with ${LONG_HISTORY} events, snapshots on vs off c${CONTENTION_CONNECTIONS}`,
          best(runs.longSnapshots),
          best(runs.longNoSnapshots),
          CONTENTION_CONNECTIONS,
        ),
        reference: { label: 'same, SNAPSHOT_EVERY=0', value: best(runs.longNoSnapshots).requestsPerSecond },
        extra: {
          ...figure('', best(runs.longSnapshots), best(runs.longNoSnapshots), CONTENTION_CONNECTIONS).extra,
          snapshotEvery: 200,
          streamEventsAtEnd: await lengthOf(longSnapshotted),
          referenceStreamEventsAtEnd: await lengthOf(longUnsnapshotted),
        },
      },
    ];
  } finally {
    await store?.close();
    await fixture.close();
  }
}

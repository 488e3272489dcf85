import { randomBytes, randomUUID } from 'node:crypto';
import { sealOrderPersonalData } from '../src/commands/privacy/personalData';
import { encodeOrderEvent, orderStreamId } from '../src/events/codec';
import type { OrderEvent } from '../src/events/orderEvents';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import { createLogger } from '../src/infra/logger';
import { PostgresDataKeyStore } from '../src/infra/privacy/dataKeyStore';
import { LocalKeyWrapper } from '../src/infra/privacy/masterKey';
import { readModelProjections } from '../src/projections/readModels';
import { Projector, projectedPosition } from '../src/projections/projector';
import { openPersonalData } from '../src/queries/privacy/revealPersonalData';
import { createAppFixture } from './lib/appFixture';
import { createBenchDatabase, type BenchDatabase } from './lib/benchDb';
import { load, type LoadResult } from './lib/load';
import { orderLife } from './lib/seedOrders';
import type { Figure } from './lib/report';

const CONNECTIONS = 16;
const address = { name: 'Ada Lovelace', line1: '12 St James Square', line2: 'Flat 3', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB', phone: '+44 20 7946 0958' };

/**
 * Figure 10: what personal data costs. (a) POST /orders with a shipping address and contact (sealed
 * with the customer's data key) against the same request without, one app, runs in A B B A order.
 * (b) Rebuilding both read models from events whose OrderPlaced carries sealed personal data against
 * the same number of plain events, in the same run; plus opening every order's sealed data once
 * (what reads pay, since read models keep it sealed and it is opened at query time).
 */
export async function benchPersonalData(quick: boolean): Promise<Figure[]> {
  return [...(await placeOrders(quick)), ...(await rebuild(quick))];
}

async function placeOrders(quick: boolean): Promise<Figure[]> {
  const fixture = await createAppFixture('pii');
  try {
    const app = await fixture.startApp();
    const user = await fixture.user('pii');
    const items = [{ productId: fixture.productId, quantity: 1 }];
    const post = (body: object) => (seconds: number) =>
      load({ url: `${app.url}/orders`, method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body, connections: CONNECTIONS, durationSeconds: seconds });
    const plain = post({ items, paymentMethod: 'MANUAL' });
    const sealed = post({ items, paymentMethod: 'MANUAL', shippingAddress: address, contactEmail: 'ada@example.com' });
    await plain(1);
    await sealed(1);
    const runs: Array<[string, LoadResult]> = [];
    for (const letter of quick ? 'ABBA' : 'ABBAABBA') {
      const [label, run] = letter === 'A' ? (['address', sealed] as const) : (['plain', plain] as const);
      const result = await run(3);
      if (result.failed > 0) throw new Error(`${result.failed} POST /orders failed`);
      runs.push([label, result]);
      process.stderr.write(`[bench]   POST /orders ${label}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms\n`);
    }
    const rate = (label: string): number => {
      const mine = runs.filter(([l]) => l === label).map(([, r]) => r);
      return mine.reduce((n, r) => n + r.total, 0) / mine.reduce((s, r) => s + r.seconds, 0);
    };
    const p99 = (label: string): number => Math.max(...runs.filter(([l]) => l === label).map(([, r]) => r.p99Ms));
    return [
      {
        name: `10a POST /orders c${CONNECTIONS} with shipping address (sealed)`,
        unit: 'req/s',
        ours: rate('address'),
        reference: { label: 'without address', value: rate('plain') },
        target: 'ratio reported',
        extra: { p99Ms: p99('address'), referenceP99Ms: p99('plain') },
      },
    ];
  } finally {
    await fixture.close();
  }
}

/** Five-event order lives; with a master key, OrderPlaced carries sealed personal data. */
async function seed(db: BenchDatabase, orders: number, masterKey: Buffer | undefined): Promise<void> {
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 8 });
  const keys = new PostgresDataKeyStore(db.knex, new LocalKeyWrapper(masterKey ?? randomBytes(32)));
  const users = Array.from({ length: 500 }, () => randomUUID());
  const base = Date.parse('2026-01-01T00:00:00Z');
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < orders) {
          const n = next++;
          const userId = users[n % users.length]!;
          const life: OrderEvent[] = orderLife(userId, base + n * 10_000);
          const placed = life[0]!;
          if (masterKey && placed.type === 'OrderPlaced') {
            placed.data.personalData = await sealOrderPersonalData(keys, userId, placed.data.orderId, { shippingAddress: address, contactEmail: 'ada@example.com' });
          }
          await store.appendToStream(
            orderStreamId(placed.data.orderId),
            life.map((e) => encodeOrderEvent(e, randomUUID(), { actor: { type: 'system' } })),
            { expectedRevision: 'no_stream' },
          );
        }
      }),
    );
  } finally {
    await store.close();
  }
}

async function rebuildOnce(db: BenchDatabase): Promise<number> {
  await db.knex.raw('truncate orders, order_history; delete from projection_checkpoints');
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 4 });
  const head = BigInt(((await db.knex('events').max({ head: 'position' }).first()) as { head: string }).head);
  const projector = new Projector({ store, knex: db.knex, projections: readModelProjections, logger: createLogger('silent'), connectionString: db.url, batchSize: 2000 });
  const started = process.hrtime.bigint();
  projector.start();
  const deadline = Date.now() + 10 * 60_000;
  while (
    Date.now() < deadline &&
    (await projectedPosition(
      db.knex,
      readModelProjections.map((p) => p.name),
    )) < head
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await projector.stop();
  await store.close();
  return seconds;
}

/** Opens every order's sealed data from the read model, 100 orders (one key lookup) at a time. */
async function openAll(db: BenchDatabase, wrapper: LocalKeyWrapper): Promise<number> {
  const keys = new PostgresDataKeyStore(db.knex, wrapper);
  const started = process.hrtime.bigint();
  for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
    const rows = (await db.knex('orders').where('id', '>', after).orderBy('id').limit(100).select('id', 'user_id', 'personal_data')) as {
      id: string;
      user_id: string;
      personal_data: string | null;
    }[];
    if (rows.length === 0) break;
    await openPersonalData(
      keys,
      rows.map((r) => ({ userId: r.user_id, orderId: r.id, sealed: r.personal_data })),
    );
    after = rows[rows.length - 1]!.id;
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function rebuild(quick: boolean): Promise<Figure[]> {
  const orders = quick ? 4_000 : 40_000;
  const plainDb = await createBenchDatabase('pii_plain');
  const sealedDb = await createBenchDatabase('pii_sealed');
  try {
    const masterKey = randomBytes(32);
    await seed(plainDb, orders, undefined);
    await seed(sealedDb, orders, masterKey);
    const times: Record<'plain' | 'sealed', number[]> = { plain: [], sealed: [] };
    for (const letter of quick ? 'ABBA' : 'ABBAABBA') {
      const label = letter === 'A' ? 'sealed' : 'plain';
      const seconds = await rebuildOnce(label === 'sealed' ? sealedDb : plainDb);
      times[label].push(seconds);
      process.stderr.write(`[bench]   rebuild ${label}: ${Math.round((orders * 5) / seconds)} events/s\n`);
    }
    const rate = (label: 'plain' | 'sealed'): number => (orders * 5 * times[label].length) / times[label].reduce((a, b) => a + b, 0);
    const openSeconds = await openAll(sealedDb, new LocalKeyWrapper(masterKey));
    const ratio = rate('plain') / rate('sealed');
    return [
      {
        name: `10b projection rebuild, OrderPlaced with sealed personal data (${(orders * 5).toLocaleString('en-US')} events)`,
        unit: 'events/s',
        ours: rate('sealed'),
        reference: { label: 'plain events', value: rate('plain') },
        target: 'slowdown ≤ 1.5×',
        met: ratio <= 1.5,
        extra: { slowdown: Number(ratio.toFixed(3)), openEveryOrderSeconds: Number(openSeconds.toFixed(2)), ordersOpenedPerSecond: Math.round(orders / openSeconds) },
      },
    ];
  } finally {
    await plainDb.drop();
    await sealedDb.drop();
  }
}

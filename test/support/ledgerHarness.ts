import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createLogger } from '../../src/infra/logger';
import { Projector, projectedPosition } from '../../src/projections/projector';
import { readModelProjections } from '../../src/infra/runtime';
import { createTestDatabase, type TestDatabase } from './testDatabase';
import { nextTime, placeOrder } from './orderBuilders';

export interface Ledger {
  db: TestDatabase;
  store: PostgresEventStore;
  close(): Promise<void>;
}

export async function createLedger(): Promise<Ledger> {
  const db = await createTestDatabase();
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 10, pollIntervalMs: 100 });
  return {
    db,
    store,
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

export const silentLogger = createLogger('silent');

export function startProjector(ledger: Ledger, batchSize = 100): Projector {
  const projector = new Projector({
    store: ledger.store,
    knex: ledger.db.knex,
    projections: readModelProjections,
    logger: silentLogger,
    connectionString: ledger.db.url,
    batchSize,
    lockRetryMs: 100,
  });
  projector.start();
  return projector;
}

/**
 * Polls (bounded) until every read model has reached the newest committed event. Not the store's
 * headPosition: that is the safe head, which an unrelated open transaction can hold back.
 */
export async function waitUntilProjected(ledger: Ledger, timeoutMs = 15_000): Promise<void> {
  const row = (await ledger.db.knex('events').max({ head: 'position' }).first()) as { head: string | null } | undefined;
  const head = BigInt(row?.head ?? '0');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reached = await projectedPosition(
      ledger.db.knex,
      readModelProjections.map((p) => p.name),
    );
    if (reached >= head) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`read models did not reach ${head} within ${timeoutMs} ms`);
}

/** Drives an order through a realistic life; returns its id. Steps: how far along it goes. */
export async function seedOrder(ledger: Ledger, options: { userId?: string; steps?: number } = {}): Promise<string> {
  const place = placeOrder(options.userId ? { userId: options.userId } : {});
  const orderId = place.data.orderId;
  const lifecycle: OrderCommand[] = [
    { type: 'MarkPaid', data: { now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'PROCESSING', now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'SHIPPED', now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'DELIVERED', now: nextTime() } },
  ];
  await handleOrderCommand(ledger.store, orderId, place, { context: { actor: { type: 'user', id: place.data.userId } } });
  for (const command of lifecycle.slice(0, options.steps ?? 0)) {
    await handleOrderCommand(ledger.store, orderId, command, { context: { actor: { type: 'admin', id: 'admin-1' } } });
  }
  return orderId;
}

import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createBenchDatabase, type BenchDatabase } from './benchDb';
import { seedOrderEvents } from './seedOrders';

export interface SeededEvents {
  db: BenchDatabase;
  events: number;
  /** How long seeding took when this database was made (shared: the first user paid for it). */
  seedSeconds: number;
  shared: boolean;
}

const seeded = new Map<number, Promise<SeededEvents>>();

/**
 * A database holding `total` events as five-event order lives (seedOrderEvents), made once per run
 * and shared by the figures that only need such events to exist (projection rebuild, events export):
 * seeding a million events takes longer than either measurement. Readers must not change events;
 * dropped by dropSeededDatabases() at the end of the run.
 */
export function seededEvents(total: number): Promise<SeededEvents> {
  const existing = seeded.get(total);
  if (existing) return existing.then((s) => ({ ...s, shared: true }));
  const made = (async () => {
    const db = await createBenchDatabase(`events${total}`);
    const store = new PostgresEventStore({ connectionString: db.url, poolMax: 16 });
    try {
      const started = Date.now();
      await seedOrderEvents(store, total);
      await db.knex.raw('vacuum analyze events');
      return { db, events: total, seedSeconds: (Date.now() - started) / 1000, shared: false };
    } catch (error) {
      await db.drop();
      throw error;
    } finally {
      await store.close();
    }
  })();
  seeded.set(total, made);
  made.catch(() => seeded.delete(total));
  return made;
}

export async function dropSeededDatabases(): Promise<void> {
  const all = [...seeded.values()];
  seeded.clear();
  await Promise.allSettled(all.map(async (p) => (await p).db.drop()));
}

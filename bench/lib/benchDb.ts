import pg from 'pg';
import { createKnex, type Knex } from '../../src/infra/db/knex';
import { migrateToLatest } from '../../src/infra/db/migrations';
import { onInterrupt } from './childServer';

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

function urlFor(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, migrated database for one benchmark; dropped afterwards. */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `ol_bench_${label}_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = urlFor(name);
  const knex = createKnex({ connectionString: url, poolMax: 20, statementTimeoutMs: 600_000 });
  let dropped: Promise<void> | undefined;
  // Once only, whether from the bench's finally or from an interrupted run.
  const drop = (): Promise<void> => {
    dropped ??= (async () => {
      unregister();
      await knex.destroy();
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      // A pool's end() can resolve while a client of it is still closing; forcing the drop then
      // terminates that client, whose pool (the peer library's, say) has no error listener: the
      // bench process died so once. Let closing connections finish first (bounded).
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const open = await c.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
        if (open.rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    })();
    return dropped;
  };
  const unregister = onInterrupt(drop);
  try {
    await migrateToLatest(knex);
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, url, knex, drop };
}

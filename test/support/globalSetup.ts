import { createKnex } from '../../src/infra/db/knex';
import { migrateToLatest } from '../../src/infra/db/migrations';
import { databaseUrl, dropDatabase, listDatabases } from './testDatabase';
import pg from 'pg';
import { stop as stopEsbuild } from 'esbuild';
import { buildWebFront } from '../../web/build';

const PREFIX = 'ol_test_';
const STALE_AFTER_SECONDS = 6 * 3600;

/** Builds the web front, creates this run's migrated template database (test files clone it) and drops leftovers of crashed runs. */
export default async function globalSetup(): Promise<void> {
  // The app serves dist/web: build it from the current sources so no test runs against a stale bundle.
  try {
    await buildWebFront();
  } finally {
    await stopEsbuild();
  }
  const now = Math.floor(Date.now() / 1000);
  for (const name of await listDatabases(PREFIX)) {
    const started = Number(name.slice(PREFIX.length).split('_')[0]);
    if (Number.isFinite(started) && now - started > STALE_AFTER_SECONDS) await dropDatabase(name).catch(() => undefined);
  }
  const template = `${PREFIX}${now}_${process.pid}_tpl`;
  const admin = new pg.Client({ connectionString: databaseUrl('postgres'), connectionTimeoutMillis: 5000 });
  await admin.connect();
  await admin.query(`create database "${template}"`);
  await admin.end();
  const knex = createKnex({ connectionString: databaseUrl(template), poolMax: 2, statementTimeoutMs: 60_000 });
  try {
    await migrateToLatest(knex);
  } finally {
    await knex.destroy();
  }
  process.env.ORDER_LEDGER_TEST_TEMPLATE = template;
}

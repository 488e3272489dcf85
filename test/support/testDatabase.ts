import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createKnex, type Knex } from '../../src/infra/db/knex';

export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export function templateName(): string {
  const template = process.env.ORDER_LEDGER_TEST_TEMPLATE;
  if (!template) throw new Error('ORDER_LEDGER_TEST_TEMPLATE is not set: run tests through jest (globalSetup)');
  return template;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  knex: Knex;
  drop(): Promise<void>;
}

/** A fresh, migrated database cloned from this run's template; each test file gets its own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = templateName();
  const name = `${template.replace(/_tpl$/, '')}_${randomBytes(4).toString('hex')}`;
  // CREATE DATABASE ... TEMPLATE fails if another session is connected to the template; retry briefly.
  for (let attempt = 1; ; attempt++) {
    try {
      await admin((c) => c.query(`create database "${name}" template "${template}"`));
      break;
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  const url = databaseUrl(name);
  const knex = createKnex({ connectionString: url, poolMax: 10, statementTimeoutMs: 30_000 });
  return {
    name,
    url,
    knex,
    async drop() {
      await knex.destroy();
      await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  await admin(async (c) => {
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
    await c.query(`drop database if exists "${name}" with (force)`);
  });
}

export async function listDatabases(prefix: string): Promise<string[]> {
  return admin(async (c) => {
    const result = await c.query<{ datname: string }>('select datname from pg_database where datname like $1', [`${prefix}%`]);
    return result.rows.map((r) => r.datname);
  });
}

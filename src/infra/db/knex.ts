import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export type { Knex };

// int8 columns (positions, amounts) come back as strings by default; amounts fit in a JS number,
// positions are converted to bigint where they are read.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => value);

export interface DatabaseOptions {
  connectionString: string;
  poolMax: number;
  statementTimeoutMs: number;
  applicationName?: string;
  /** Where knex's own warnings go (default: the console); the CLI keeps them off its one-line errors. */
  log?: Knex.Config['log'];
}

export function createKnex(options: DatabaseOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'order-ledger',
      statement_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: 5000,
    },
    pool: { min: 0, max: options.poolMax, acquireTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 10_000,
    ...(options.log ? { log: options.log } : {}),
  });
}

/** Creates the database named in the URL if it does not exist (used by start-up and tests). */
export async function ensureDatabase(connectionString: string): Promise<void> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Refusing to create a database with the name "${name}"`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`create database "${name}"`);
      } catch (error) {
        // Another process may have created it between the check and the create.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
}

// What one POST /orders (MANUAL) costs in round trips, all roles in one process, drained: every SQL
// statement the app sends to its database (log_statement = all for the bench database only, read
// back from the server's log) and every Redis command naming the app's key prefix (MONITOR),
// grouped and counted per order. pg_stat_statements needs shared_preload_libraries; this does not.
// `tsx bench/orderTrace.ts [orders] [logFile]` (default 50 orders, /var/log/postgresql/postgresql-15-main.log).
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { createAppFixture, bearer } from './lib/appFixture';

const orders = Number(process.argv[2] ?? 50);
const logFile = process.argv[3] ?? '/var/log/postgresql/postgresql-15-main.log';

/** Literals and numbers out, so statements group by shape. */
function shape(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "'?'")
    .replace(/\$\d+/g, '$n')
    .replace(/\b\d+\b/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 160);
}

async function main(): Promise<void> {
  const fixture = await createAppFixture('trace');
  const monitor = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  try {
    const user = await fixture.user('tracer');
    const dbName = fixture.db.name;
    await fixture.db.knex.raw(`alter database "${dbName}" set log_statement = 'all'`);
    const app = await fixture.startApp();
    // Warm up: connections, caches, the first queue jobs.
    const post = async (): Promise<void> => {
      const res = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { ...bearer(user), 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
    };
    for (let i = 0; i < 5; i++) await post();
    await new Promise((r) => setTimeout(r, 3000));

    const redisCommands = new Map<string, number>();
    await monitor.connect();
    const feed = await monitor.monitor();
    feed.on('monitor', (_time: string, args: string[]) => {
      if (!args.some((a) => a.includes(fixture.env.prefix))) return;
      const command = args[0]!.toLowerCase();
      // Grouped by command and key (EVALSHA: its first key), prefix and ids stripped.
      const keyArg = command === 'evalsha' || command === 'eval' ? args[3] : args[1];
      const key = ` ${(keyArg ?? '').replace(fixture.env.prefix, '').replace(/[0-9a-f-]{8,}/g, '*')}`;
      redisCommands.set(command + key, (redisCommands.get(command + key) ?? 0) + 1);
    });
    const logStart = fs.statSync(logFile).size;
    for (let i = 0; i < orders; i++) await post();
    // Drained: the projector, notifier and email worker have done this batch's work.
    await new Promise((r) => setTimeout(r, 5000));
    feed.disconnect();
    const log = fs.readFileSync(logFile, 'utf8').slice(logStart);
    const statements = new Map<string, number>();
    let current: string | undefined;
    const flush = (): void => {
      if (current === undefined) return;
      const key = shape(current);
      statements.set(key, (statements.get(key) ?? 0) + 1);
      current = undefined;
    };
    for (const line of log.split('\n')) {
      const match = new RegExp(`@${dbName} LOG:\\s+(?:statement|execute [^:]*):\\s(.*)$`).exec(line);
      if (match) {
        flush();
        current = match[1]!;
      } else if (/^\d{4}-\d\d-\d\d /.test(line)) flush();
      else if (current !== undefined && !line.startsWith('\t') === false) current += ` ${line.trim()}`;
    }
    flush();
    const print = (title: string, map: Map<string, number>): void => {
      const total = [...map.values()].reduce((a, b) => a + b, 0);
      console.log(`\n${title}: ${(total / orders).toFixed(2)} per order`);
      for (const [key, n] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
        console.log(`${(n / orders).toFixed(2).padStart(7)}  ${key}`);
      }
    };
    print('SQL statements', statements);
    print('Redis commands (app prefix)', redisCommands);
  } finally {
    await fixture.db.knex.raw(`alter database "${fixture.db.name}" reset log_statement`).catch(() => undefined);
    monitor.disconnect();
    await fixture.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

// Child process for figure 3: projects $all from position 0 into empty read models, then reports
// its own throughput and peak RSS (ru_maxrss) on stdout as JSON.
import { createKnex } from '../src/infra/db/knex';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import { createLogger } from '../src/infra/logger';
import { readModelProjections } from '../src/infra/runtime';
import { Projector, projectedPosition } from '../src/projections/projector';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL!;
  const knex = createKnex({ connectionString: url, poolMax: 4, statementTimeoutMs: 600_000 });
  const store = new PostgresEventStore({ connectionString: url, poolMax: 4 });
  const head = BigInt(((await knex('events').max({ head: 'position' }).first()) as { head: string }).head);
  const count = Number(((await knex('events').count({ n: '*' }).first()) as { n: string }).n);
  const projector = new Projector({
    store,
    knex,
    projections: readModelProjections,
    logger: createLogger('silent'),
    connectionString: url,
    batchSize: Number(process.env.BATCH ?? '2000'),
  });
  const started = process.hrtime.bigint();
  projector.start();
  const deadline = Date.now() + 20 * 60_000;
  while (
    Date.now() < deadline &&
    (await projectedPosition(
      knex,
      readModelProjections.map((p) => p.name),
    )) < head
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await projector.stop();
  await store.close();
  await knex.destroy();
  process.stdout.write(JSON.stringify({ events: count, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

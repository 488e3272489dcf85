import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import type { EventData } from '../src/infra/eventstore/eventStore';
import { createBenchDatabase } from './lib/benchDb';
import { throughput } from './lib/drive';
import { median, type Figure } from './lib/report';

const payload = { orderId: '00000000-0000-4000-8000-000000000000', amount: 1999, currency: 'USD', note: 'benchmark event payload' };

function eventData(): EventData {
  return { id: randomUUID(), type: 'BenchEventHappened', data: payload, metadata: { schemaVersion: 1 } };
}

/**
 * Figure 1: appends per second to distinct streams, ours vs a plain INSERT transaction (ceiling)
 * vs emmett-postgresql (peer), each at the same concurrency through pg, interleaved over rounds.
 */
export async function benchAppend(quick: boolean): Promise<Figure[]> {
  const db = await createBenchDatabase('append');
  // Quick: 1.5 s per cell keeps the whole quick run (six figures) under 90 s.
  const durationMs = quick ? 1500 : 6000;
  const rounds = quick ? 1 : 3;
  await db.knex.raw(
    `create table plain_events (id bigserial primary key, event_id uuid not null, stream_id text not null, type text not null, data jsonb not null, metadata jsonb not null, created_at timestamptz not null default now())`,
  );
  const ours = new PostgresEventStore({ connectionString: db.url, poolMax: 16 });
  const plainPool = new pg.Pool({ connectionString: db.url, max: 16 });
  const emmett = getPostgreSQLEventStore(db.url, { connectionOptions: { pooled: true }, schema: { autoMigration: 'CreateOrUpdate' } } as never);
  // Warm up: creates emmett's schema and fills every pool.
  await emmett.appendToStream(`warm-${randomUUID()}`, [{ type: 'BenchEventHappened', data: payload }]);
  await Promise.all(Array.from({ length: 16 }, () => ours.appendToStream(`warm-${randomUUID()}`, [eventData()], { expectedRevision: 'no_stream' })));

  const figures: Figure[] = [];
  const cases: Array<{ label: string; concurrency: number; batch: number }> = [
    { label: 'c1 single', concurrency: 1, batch: 1 },
    { label: 'c16 single', concurrency: 16, batch: 1 },
    { label: 'c16 batch10', concurrency: 16, batch: 10 },
  ];
  try {
    for (const c of cases) {
      const results = { ours: [] as number[], ceiling: [] as number[], peer: [] as number[] };
      for (let round = 0; round < rounds; round++) {
        results.ours.push(
          c.batch *
            (await throughput(
              () => ours.appendToStream(`order-${randomUUID()}`, Array.from({ length: c.batch }, eventData), { expectedRevision: 'no_stream' }).then(() => undefined),
              c.concurrency,
              durationMs,
            )),
        );
        results.ceiling.push(
          c.batch *
            (await throughput(
              async () => {
                const client = await plainPool.connect();
                try {
                  await client.query('begin');
                  const stream = `order-${randomUUID()}`;
                  const rows = Array.from({ length: c.batch }, eventData);
                  await client.query(
                    'insert into plain_events (event_id, stream_id, type, data, metadata) select * from unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])',
                    [rows.map((r) => r.id), rows.map(() => stream), rows.map((r) => r.type), rows.map((r) => JSON.stringify(r.data)), rows.map((r) => JSON.stringify(r.metadata))],
                  );
                  await client.query('commit');
                } finally {
                  client.release();
                }
              },
              c.concurrency,
              durationMs,
            )),
        );
        results.peer.push(
          c.batch *
            (await throughput(
              () =>
                emmett
                  .appendToStream(
                    `order-${randomUUID()}`,
                    Array.from({ length: c.batch }, () => ({ type: 'BenchEventHappened', data: payload, metadata: { schemaVersion: 1 } })),
                  )
                  .then(() => undefined),
              c.concurrency,
              durationMs,
            )),
        );
      }
      const oursValue = median(results.ours);
      const ceiling = median(results.ceiling);
      const peer = median(results.peer);
      const isTargetCase = c.concurrency === 16;
      figures.push({
        name: `1 append ${c.label}`,
        unit: 'events/s',
        ours: oursValue,
        reference: { label: 'plain INSERT tx', value: ceiling },
        peer: { label: 'emmett-postgresql', value: peer },
        target: isTargetCase ? '≥0.8×ceiling, ≥1.0×peer' : 'context',
        ...(isTargetCase ? { met: oursValue >= 0.8 * ceiling && oursValue >= peer } : {}),
      });
    }
  } finally {
    await ours.close();
    await plainPool.end();
    await emmett.close();
    await db.drop();
  }
  return figures;
}

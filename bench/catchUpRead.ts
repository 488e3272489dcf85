import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresEventStore } from '../src/infra/eventstore/postgresEventStore';
import { createBenchDatabase } from './lib/benchDb';
import { median, type Figure } from './lib/report';

/** Figure 2: reading all of $all in pages, ours (safe boundary, decoding to RecordedEvent) vs a plain ordered SELECT. */
export async function benchCatchUp(quick: boolean): Promise<Figure[]> {
  const db = await createBenchDatabase('catchup');
  const total = quick ? 100_000 : 500_000;
  const page = 1000;
  const rounds = quick ? 2 : 3;
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 4 });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    // Seed with multi-event appends so seeding is quick; positions are those the store assigns.
    const perAppend = 100;
    const payload = { orderId: randomUUID(), amount: 1999, currency: 'USD', note: 'catch-up benchmark' };
    for (let i = 0; i < total / perAppend; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          store.appendToStream(
            `order-${randomUUID()}`,
            Array.from({ length: perAppend }, () => ({ id: randomUUID(), type: 'BenchEventHappened', data: payload, metadata: { schemaVersion: 1 } })),
            { expectedRevision: 'no_stream' },
          ),
        ),
      );
    }
    await db.knex.raw('vacuum analyze events');
    const ours: number[] = [];
    const plain: number[] = [];
    for (let round = 0; round < rounds; round++) {
      let started = process.hrtime.bigint();
      let after = -1n;
      let count = 0;
      for (;;) {
        const batch = await store.readAll({ after, limit: page });
        if (batch.length === 0) break;
        count += batch.length;
        after = batch[batch.length - 1]!.position;
      }
      ours.push(count / (Number(process.hrtime.bigint() - started) / 1e9));

      started = process.hrtime.bigint();
      let afterText = '-1';
      count = 0;
      for (;;) {
        const result = await pool.query<{ position: string }>(
          'select position, event_id, stream_id, revision, type, data, metadata, created_at from events where position > $1 order by position limit $2',
          [afterText, page],
        );
        if (result.rows.length === 0) break;
        count += result.rows.length;
        afterText = result.rows[result.rows.length - 1]!.position;
      }
      plain.push(count / (Number(process.hrtime.bigint() - started) / 1e9));
    }
    const oursValue = median(ours);
    const ceiling = median(plain);
    return [
      {
        name: `2 catch-up read of $all (${total.toLocaleString('en-US')} events)`,
        unit: 'events/s',
        ours: oursValue,
        reference: { label: 'plain ordered SELECT', value: ceiling },
        target: '≥0.7×ceiling',
        met: oursValue >= 0.7 * ceiling,
      },
    ];
  } finally {
    await store.close();
    await pool.end();
    await db.drop();
  }
}

import type { Knex } from 'knex';
import type { EventStore } from '../eventstore/eventStore';

/** How far one subscriber is behind the head of $all. */
export interface Lag {
  /** Events after the checkpoint up to the head, counted up to the reader's cap. */
  events: number;
  /** Age of the oldest event the subscriber has not handled yet; 0 when it is caught up. */
  seconds: number;
}

export interface LagReader {
  /** Largest event count reported: a value equal to it means "at least this many". */
  readonly cap: number;
  read(checkpoints: ReadonlyMap<string, bigint>, head: bigint, timeoutMs: number): Promise<Map<string, Lag>>;
}

/**
 * The PostgreSQL store's events table, read directly: one statement for every subscriber, each
 * count an index range scan on the primary key that stops at `cap` rows, and the oldest pending
 * event's age measured on the database clock (the one that stamped `created_at`).
 */
export function postgresLagReader(knex: Knex, cap = 10_000): LagReader {
  return {
    cap,
    async read(checkpoints, head, timeoutMs) {
      const entries = [...checkpoints];
      if (entries.length === 0) return new Map();
      const values = entries.map(() => '(?::text, ?::bigint)').join(', ');
      const bindings = entries.flatMap(([name, position]) => [name, position.toString()]);
      const result = (await knex
        .raw(
          `select c.name,
             (select count(*) from (select 1 from events e where e.position > c.position and e.position <= ?::bigint limit ?) bounded)::int as events,
             (select greatest(extract(epoch from clock_timestamp() - e.created_at), 0)::float8
                from events e where e.position > c.position and e.position <= ?::bigint order by e.position limit 1) as seconds
           from (values ${values}) as c(name, position)`,
          [head.toString(), cap, head.toString(), ...bindings],
        )
        .timeout(timeoutMs, { cancel: true })) as { rows: { name: string; events: number; seconds: number | null }[] };
      return new Map(result.rows.map((row) => [row.name, { events: row.events, seconds: row.seconds ?? 0 }]));
    },
  };
}

/**
 * Any store through the port: reads up to `cap` events after each checkpoint. Whole events come
 * back (EventStoreDB has no cheaper count), so the cap is kept small.
 */
export function storeLagReader(store: EventStore, cap = 1000, now: () => number = Date.now): LagReader {
  return {
    cap,
    async read(checkpoints, head) {
      const lags = new Map<string, Lag>();
      for (const [name, position] of checkpoints) {
        const events = position >= head ? [] : (await store.readAll({ after: position, limit: cap })).filter((e) => e.position <= head);
        const oldest = events[0];
        lags.set(name, { events: events.length, seconds: oldest ? Math.max(0, (now() - Date.parse(oldest.createdAt)) / 1000) : 0 });
      }
      return lags;
    },
  };
}

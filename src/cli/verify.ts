import type { Knex } from 'knex';
import { evolve, initialOrderState, type OrderState } from '../commands/order/orderDecider';
import type { StoredOrderEvent } from '../events/codec';
import { orderIdFromStream } from '../events/codec';
import type { EventStore } from '../infra/eventstore/eventStore';
import type { Projection } from '../projections/projection';
import { readCheckpoints } from '../infra/eventstore/singletonSubscriber';
import { CliFailure } from './output';
import { projectRange, type ProjectionRange } from './projectRange';
import { diffRows, expectedOrderRow, type JsonRow } from './rowDiff';
import { hasColumn, primaryKeyColumns, quoteIdent, rel, tableExists } from './tables';

export interface VerifyMismatch {
  orderId: string;
  table: string;
  /** Key columns other than the order id (order_history: the revision). */
  key: Record<string, unknown>;
  field: string;
  expected: unknown;
  found: unknown;
  /**
   * `replay`: the live row differs from the stream replayed through the projection's own code.
   * `fold`: the projection's row differs from the order folded by the decider's `evolve`.
   */
  check: 'replay' | 'fold';
}

export interface VerifyReport {
  streams: number;
  /** Order events folded and replayed. */
  events: number;
  /** The position each read model was compared at. */
  checkpoints: Record<string, bigint>;
  mismatchCount: number;
  /** The first `maxReported` mismatches. */
  mismatches: VerifyMismatch[];
  /** Live rows changed by events newer than the replay; left for the next run. */
  skippedRows: number;
}

export interface VerifyOptions {
  knex: Knex;
  store: EventStore;
  projections: readonly Projection[];
  batchSize: number;
  maxReported: number;
  onMismatch?: (mismatch: VerifyMismatch) => void;
  onProgress?: (eventsRead: number, total: number | undefined) => void;
}

const SCRATCH_PREFIX = 'verify__';
const FOLD_TABLE = 'verify__folded';
const CATCH_UP_ROUNDS = 3;
const FETCH_SIZE = 500;

const scratchName = (table: string): string => `${SCRATCH_PREFIX}${table}`;

/**
 * Replays every order event the read models have seen (up to their checkpoints) through the real
 * projections into session-local scratch tables, folds each order stream with the decider, and
 * compares: scratch against live rows field by field, and the fold against the scratch `orders`.
 *
 * The scratch tables live on one pinned connection and are filled in short transactions: a long
 * writing transaction would hold back the event store's safe head and stall the live projector.
 * The final comparison runs in one read-only snapshot; live rows that moved past the replay while
 * it ran (position between the replay's and the snapshot's checkpoint) are skipped, not misreported.
 */
export async function verifyReadModels(options: VerifyOptions): Promise<VerifyReport> {
  const { knex, store, projections } = options;
  const names = projections.map((p) => p.name);
  const foldsOrders = projections.some((p) => p.name === 'orders' && p.tables.includes('orders'));
  for (const projection of projections) {
    for (const table of projection.tables) {
      if (!(await tableExists(knex, rel(table)))) {
        throw new CliFailure(`read-model table ${table} does not exist; restore it with \`order-ledger projections rebuild --name ${projection.name}\``);
      }
    }
  }

  // Knex types its client as `any`; these two pool methods are all this uses of it.
  const pool = knex.client as ConnectionPool;
  const connection = await pool.acquireConnection();
  const onSession = <T>(work: (trx: Knex.Transaction) => Promise<T>, config: Knex.TransactionConfig = {}): Promise<T> => knex.transaction(work, { ...config, connection });
  const report: VerifyReport = { streams: 0, events: 0, checkpoints: {}, mismatchCount: 0, mismatches: [], skippedRows: 0 };
  const record = (mismatch: VerifyMismatch): void => {
    report.mismatchCount += 1;
    if (report.mismatches.length < options.maxReported) report.mismatches.push(mismatch);
    options.onMismatch?.(mismatch);
  };

  try {
    await onSession(async (trx) => {
      for (const projection of projections) {
        for (const table of projection.tables) {
          await trx.raw(`drop table if exists pg_temp.${quoteIdent(scratchName(table))}`);
          await trx.raw(`create temp table ${quoteIdent(scratchName(table))} (like ${quoteIdent(table)} including all)`);
        }
      }
      await trx.raw(`drop table if exists pg_temp.${FOLD_TABLE}`);
      await trx.raw(`create temp table ${FOLD_TABLE} (order_id text primary key, revision bigint not null, state jsonb not null)`);
    });

    // Replay up to the checkpoints, then catch up a few times if the projector moved meanwhile.
    const built = new Map(names.map((name) => [name, -1n]));
    let total: number | undefined;
    let eventsSoFar = 0;
    for (let round = 0; round <= CATCH_UP_ROUNDS; round++) {
      const checkpoints = await readCheckpoints(knex, names);
      const ranges: ProjectionRange[] = projections
        .map((projection) => ({ projection, after: built.get(projection.name)!, upTo: checkpoints.get(projection.name) ?? -1n }))
        .filter((range) => range.upTo > range.after);
      if (ranges.length === 0) break;
      if (round === 0) total = await countEventsUpTo(knex, store, ranges);
      const foldRange = ranges.find((r) => r.projection.name === 'orders');
      const result = await projectRange({
        store,
        ranges,
        tableOf: scratchName,
        inTransaction: (work) => onSession(work),
        batchSize: options.batchSize,
        onPage: foldsOrders && foldRange ? (trx, events) => foldPage(trx, events, foldRange) : undefined,
        onProgress: (read) => options.onProgress?.(eventsSoFar + read, total),
      });
      eventsSoFar += result.eventsRead;
      report.events += result.orderEvents;
      for (const range of ranges) built.set(range.projection.name, range.upTo);
    }
    if (foldsOrders) {
      const folded = (await onSession((trx) => trx(FOLD_TABLE).count({ n: '*' }).first())) as { n: string } | undefined;
      report.streams = Number(folded?.n ?? 0);
    }

    await onSession(
      async (trx) => {
        // Whole-table comparisons legitimately outlast the per-statement cap meant for API queries.
        await trx.raw('set local statement_timeout = 0');
        const snapshot = await readCheckpoints(trx, names);
        for (const projection of projections) {
          const replayedTo = built.get(projection.name)!;
          const liveAt = snapshot.get(projection.name) ?? -1n;
          if (liveAt < replayedTo) {
            throw new CliFailure(`read model ${projection.name} moved back from position ${replayedTo} to ${liveAt} during verification (a rebuild ran?); run verify again`);
          }
          report.checkpoints[projection.name] = replayedTo;
          for (const table of projection.tables) {
            report.skippedRows += await compareTable(trx, table, replayedTo, liveAt, record);
          }
        }
        if (foldsOrders) await compareFold(trx, record);
      },
      { isolationLevel: 'repeatable read', readOnly: true },
    );
    return report;
  } finally {
    await onSession(async (trx) => {
      for (const projection of projections) {
        for (const table of projection.tables) await trx.raw(`drop table if exists pg_temp.${quoteIdent(scratchName(table))}`);
      }
      await trx.raw(`drop table if exists pg_temp.${FOLD_TABLE}`);
    }).catch(() => undefined);
    await pool.releaseConnection(connection);
  }
}

async function countEventsUpTo(knex: Knex, store: EventStore, ranges: readonly ProjectionRange[]): Promise<number | undefined> {
  // The port has no count; on PostgreSQL the events table answers it cheaply for the progress bar.
  if (store.kind !== 'postgres') return undefined;
  const low = ranges.reduce((min, r) => (r.after < min ? r.after : min), ranges[0]!.after);
  const high = ranges.reduce((max, r) => (r.upTo > max ? r.upTo : max), ranges[0]!.upTo);
  const row = (await knex('events').where('position', '>', low.toString()).andWhere('position', '<=', high.toString()).count({ n: '*' }).first()) as { n: string } | undefined;
  return Number(row?.n ?? 0);
}

/** Folds a page's events onto the stored states of their orders with the decider's `evolve`. */
async function foldPage(trx: Knex.Transaction, events: readonly StoredOrderEvent[], range: ProjectionRange): Promise<void> {
  const byOrder = new Map<string, StoredOrderEvent[]>();
  for (const stored of events) {
    if (stored.position <= range.after || stored.position > range.upTo) continue;
    const orderId = orderIdFromStream(stored.streamId) ?? stored.streamId;
    const list = byOrder.get(orderId);
    if (list) list.push(stored);
    else byOrder.set(orderId, [stored]);
  }
  if (byOrder.size === 0) return;
  const existing = (await trx(FOLD_TABLE)
    .whereIn('order_id', [...byOrder.keys()])
    .select('order_id', 'state')) as { order_id: string; state: OrderState }[];
  const states = new Map(existing.map((row) => [row.order_id, row.state]));
  const rows = [...byOrder].map(([orderId, list]) => {
    const state = list.reduce((current, stored) => evolve(current, stored.event), states.get(orderId) ?? initialOrderState);
    return { order_id: orderId, revision: list[list.length - 1]!.revision.toString(), state: JSON.stringify(state) };
  });
  await trx(FOLD_TABLE).insert(rows).onConflict('order_id').merge();
}

/** Streams a query's rows through a server-side cursor: constant memory on any table size. */
async function forEachRow<T>(trx: Knex.Transaction, sql: string, bindings: readonly Knex.Value[], visit: (row: T) => void): Promise<void> {
  await trx.raw(`declare verify_rows no scroll cursor for ${sql}`, bindings);
  // Each fetch returns fewer rows than asked only at the end, so the loop ends with the cursor.
  for (;;) {
    const result = await trx.raw<{ rows: T[] }>(`fetch ${FETCH_SIZE} from verify_rows`);
    for (const row of result.rows) visit(row);
    if (result.rows.length < FETCH_SIZE) break;
  }
  await trx.raw('close verify_rows');
}

interface ConnectionPool {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

function orderIdOf(row: JsonRow): string {
  const id = row.order_id ?? row.id ?? row.product_id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : '?';
}

/** Compares a live table with its scratch replay; returns how many live rows were skipped as newer. */
async function compareTable(trx: Knex.Transaction, table: string, replayedTo: bigint, liveAt: bigint, record: (mismatch: VerifyMismatch) => void): Promise<number> {
  const keys = await primaryKeyColumns(trx, rel(table));
  if (keys.length === 0) throw new CliFailure(`read-model table ${table} has no primary key to compare rows by`);
  const scratch = quoteIdent(scratchName(table));
  const live = quoteIdent(table);
  const on = keys.map((k) => `s.${quoteIdent(k)} = l.${quoteIdent(k)}`).join(' and ');
  const order = keys.map((k) => `coalesce(s.${quoteIdent(k)}, l.${quoteIdent(k)})`).join(', ');
  // The null-extended side of an outer join is a row of nulls, not NULL: test a key column instead.
  const first = quoteIdent(keys[0]!);
  const tracksPosition = await hasColumn(trx, rel(table), 'position');
  // Rows the projector changed after the replay's position reflect events the replay has not seen.
  const newer = tracksPosition ? `coalesce(l.position > ${replayedTo.toString()} and l.position <= ${liveAt.toString()}, false)` : 'false';
  let skipped = 0;
  if (tracksPosition && liveAt > replayedTo) {
    const row = (await trx.raw<{ rows: { n: string }[] }>(`select count(*) as n from ${live} l where ${newer}`)).rows[0];
    skipped = Number(row?.n ?? 0);
  }
  await forEachRow<{ expected: JsonRow | null; found: JsonRow | null }>(
    trx,
    `select case when s.${first} is null then null else to_jsonb(s) end as expected,
            case when l.${first} is null then null else to_jsonb(l) end as found
       from ${scratch} s full outer join ${live} l on ${on}
      where (s.${first} is null or l.${first} is null or to_jsonb(s) is distinct from to_jsonb(l)) and not ${newer}
      order by ${order}`,
    [],
    ({ expected, found }) => {
      const row = (expected ?? found)!;
      const orderId = orderIdOf(row);
      const key = Object.fromEntries(keys.filter((k) => k !== 'id' && k !== 'order_id').map((k) => [k, row[k]]));
      for (const difference of diffRows(expected ?? undefined, found ?? undefined)) {
        record({ orderId, table, key, ...difference, check: 'replay' });
      }
    },
  );
  return skipped;
}

/** The decider's fold against the projection's `orders` rows (from the scratch replay, same events). */
async function compareFold(trx: Knex.Transaction, record: (mismatch: VerifyMismatch) => void): Promise<void> {
  const fields = ['id', 'user_id', 'status', 'total_amount', 'currency', 'payment_method', 'refunded_amount', 'revision'];
  await forEachRow<{ order_id: string | null; revision: string | null; state: OrderState | null; found: JsonRow | null }>(
    trx,
    `select f.order_id, f.revision, f.state, case when s.id is null then null else to_jsonb(s) end as found
       from ${FOLD_TABLE} f full outer join ${quoteIdent(scratchName('orders'))} s on s.id::text = f.order_id
      order by coalesce(f.order_id, s.id::text)`,
    [],
    ({ order_id, revision, state, found }) => {
      const expected = state && revision !== null ? expectedOrderRow(state, BigInt(revision)) : undefined;
      const orderId = order_id ?? (found ? orderIdOf(found) : '?');
      for (const difference of diffRows(expected, found ?? undefined, fields)) {
        record({ orderId, table: 'orders', key: {}, ...difference, check: 'fold' });
      }
    },
  );
}

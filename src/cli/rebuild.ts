import knexFactory, { type Knex } from 'knex';
import { AdvisoryLock } from '../infra/db/advisoryLock';
import { migrateToLatest, pendingMigrations } from '../infra/db/migrations';
import type { EventStore } from '../infra/eventstore/eventStore';
import type { Projection } from '../projections/projection';
import { CHECKPOINTS_TABLE, deleteCheckpoints, saveCheckpoints, subscriberLockKey } from '../infra/eventstore/singletonSubscriber';
import { PROJECTED_CHANNEL, PROJECTOR_NAME } from '../projections/projector';
import { CliFailure } from './output';
import { projectRange } from './projectRange';
import { indexesOf, quoteIdent, rel, tableExists, type IndexInfo } from './tables';

export const REBUILD_SUFFIX = '__rebuild';
/** Where the migrations are replayed to learn a dropped table's shape; dropped afterwards. */
const SHAPE_SCHEMA = 'order_ledger_rebuild_shape';
/** The live projector's lock: held by the swap when no projector runs, so a standby one waits. */
const PROJECTOR_LOCK_KEY = subscriberLockKey(PROJECTOR_NAME);
/** One rebuild at a time. */
const REBUILD_LOCK_KEY = subscriberLockKey('rebuild');
/** Rounds of chasing events appended during the bulk replay before the swap takes the rest. */
const CHASE_ROUNDS = 5;

export interface RebuildOptions {
  knex: Knex;
  store: EventStore;
  /** In the live projector's order (runtime's readModelProjections): tables are locked in that order. */
  projections: readonly Projection[];
  connectionString: string;
  batchSize: number;
  /** How long the swap waits for the live tables' locks before giving up (API queries, the projector). */
  lockTimeoutMs: number;
  onProgress?: (eventsRead: number, total: number | undefined) => void;
}

export interface RebuildReport {
  projections: string[];
  /** Events read from $all (any stream) and replayed. */
  events: number;
  orderEvents: number;
  /** The checkpoint the rebuilt read models start from. */
  position: bigint;
  seconds: number;
  eventsPerSecond: number;
  /** True when a live projector held its lock: its next batch waited for the swap instead. */
  liveProjector: boolean;
}

const rebuildName = (table: string): string => `${table}${REBUILD_SUFFIX}`;

/**
 * Rebuilds read models from position 0 while the API keeps serving the old tables:
 * 1. create `<table>__rebuild` shaped like the live table (or, if it was dropped, like the table
 *    the migrations create) and replay $all into it through the projection's own `apply`;
 * 2. in one transaction: lock the live tables and the checkpoints (the live projector's next batch
 *    waits), replay the tail, drop the old tables, rename the new ones and their indexes into
 *    place, and set the checkpoints.
 * Projections are idempotent, so a live projector resuming after the swap from an older position
 * only re-applies events the new tables already hold.
 */
export async function rebuildProjections(options: RebuildOptions): Promise<RebuildReport> {
  const { knex, store, projections } = options;
  const rebuildLock = new AdvisoryLock(options.connectionString, REBUILD_LOCK_KEY);
  if (!(await rebuildLock.tryAcquire(() => undefined))) throw new CliFailure('another projections rebuild is running');
  const tables = projections.flatMap((p) => p.tables);
  let swapped = false;
  try {
    const pending = await pendingMigrations(knex);
    if (pending.length > 0) throw new CliFailure(`migrations pending (${pending.join(', ')}); run \`order-ledger migrate\` first`);
    const shapeIndexes = await createRebuildTables(knex, options.connectionString, tables);

    const started = process.hrtime.bigint();
    const ranges = (upTo: bigint, after: bigint) => projections.map((projection) => ({ projection, after, upTo }));
    let position = -1n;
    let events = 0;
    let orderEvents = 0;
    const head = await store.headPosition();
    const total = await countEvents(knex, store, head);
    let target = head;
    for (let round = 0; round <= CHASE_ROUNDS && target > position; round++) {
      const base = events;
      const result = await projectRange({
        store,
        ranges: ranges(target, position),
        tableOf: rebuildName,
        inTransaction: (work) => knex.transaction(work),
        batchSize: options.batchSize,
        onProgress: (read) => options.onProgress?.(base + read, total === undefined ? undefined : Math.max(total, base + read)),
      });
      events += result.eventsRead;
      orderEvents += result.orderEvents;
      position = result.lastPosition;
      if (result.eventsRead === 0) break;
      target = await store.headPosition();
    }

    const projectorLock = new AdvisoryLock(options.connectionString, PROJECTOR_LOCK_KEY);
    // Free means no projector runs: holding it keeps a standby one from starting mid-swap. Taken
    // means a live projector: the table locks below make its next batch wait for the swap.
    const projectorPaused = await projectorLock.tryAcquire(() => undefined).catch(() => false);
    try {
      await knex.transaction(async (trx) => {
        await trx.raw(`set local lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs))}`);
        const live: string[] = [];
        for (const table of tables) if (await tableExists(trx, rel(table))) live.push(table);
        try {
          if (live.length > 0) await trx.raw(`lock table ${live.map((t) => rel(t)).join(', ')} in access exclusive mode`);
          await trx.raw(`lock table ${CHECKPOINTS_TABLE} in exclusive mode`);
        } catch (error) {
          if ((error as { code?: string }).code === '55P03') {
            throw new CliFailure(
              `could not lock ${[...live, CHECKPOINTS_TABLE].join(', ')} within ${options.lockTimeoutMs} ms (long-running queries?); nothing was swapped, run rebuild again`,
            );
          }
          throw error;
        }
        const tail = await projectRange({
          store,
          ranges: ranges(await store.headPosition(), position),
          tableOf: rebuildName,
          inTransaction: (work) => work(trx),
          batchSize: options.batchSize,
          onProgress: (read) => options.onProgress?.(events + read, total === undefined ? undefined : Math.max(total, events + read)),
        });
        events += tail.eventsRead;
        orderEvents += tail.orderEvents;
        position = tail.lastPosition;

        for (const table of tables) {
          const reference = live.includes(table) ? await indexesOf(trx, rel(table)) : (shapeIndexes.get(table) ?? []);
          if (live.includes(table)) await trx.raw(`drop table ${rel(table)}`);
          await trx.raw(`alter table ${rel(rebuildName(table))} rename to ${quoteIdent(table)}`);
          await restoreIndexNames(trx, table, reference);
        }
        const names = projections.map((p) => p.name);
        if (position >= 0n) {
          await saveCheckpoints(trx, names, position);
          // Wakes API requests waiting for a position (X-Min-Position) once the swap commits.
          await trx.raw('select pg_notify(?, ?)', [PROJECTED_CHANNEL, position.toString()]);
        } else {
          await deleteCheckpoints(trx, names);
        }
      });
      swapped = true;
    } finally {
      if (projectorPaused) await projectorLock.release().catch(() => undefined);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      projections: projections.map((p) => p.name),
      events,
      orderEvents,
      position,
      seconds,
      eventsPerSecond: seconds > 0 ? events / seconds : events,
      liveProjector: !projectorPaused,
    };
  } finally {
    if (!swapped) {
      // Leftovers would only be dropped by the next run; the live tables are untouched.
      for (const table of tables) await knex.raw(`drop table if exists ${rel(rebuildName(table))}`).catch(() => undefined);
    }
    await rebuildLock.release().catch(() => undefined);
  }
}

async function countEvents(knex: Knex, store: EventStore, head: bigint): Promise<number | undefined> {
  // The port has no count; on PostgreSQL the events table answers it for the progress bar.
  if (store.kind !== 'postgres') return undefined;
  const row = (await knex('events').where('position', '<=', head.toString()).count({ n: '*' }).first()) as { n: string } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * Creates the empty `__rebuild` tables. A live table lends its own shape; a dropped one gets the
 * shape the migrations give it, replayed into a scratch schema. Returns the index names of those
 * migration-made tables, to restore after the swap.
 */
async function createRebuildTables(knex: Knex, connectionString: string, tables: readonly string[]): Promise<Map<string, IndexInfo[]>> {
  const shapeIndexes = new Map<string, IndexInfo[]>();
  const missing: string[] = [];
  for (const table of tables) {
    await knex.raw(`drop table if exists ${rel(rebuildName(table))}`);
    if (await tableExists(knex, rel(table))) {
      await knex.raw(`create table ${rel(rebuildName(table))} (like ${rel(table)} including all)`);
    } else {
      missing.push(table);
    }
  }
  if (missing.length === 0) return shapeIndexes;
  await knex.raw(`drop schema if exists ${quoteIdent(SHAPE_SCHEMA)} cascade`);
  await knex.raw(`create schema ${quoteIdent(SHAPE_SCHEMA)}`);
  try {
    const shapeKnex = knexFactory({ client: 'pg', connection: { connectionString }, searchPath: [SHAPE_SCHEMA], pool: { min: 0, max: 1 } });
    try {
      await migrateToLatest(shapeKnex);
    } finally {
      await shapeKnex.destroy();
    }
    for (const table of missing) {
      if (!(await tableExists(knex, rel(table, SHAPE_SCHEMA)))) throw new CliFailure(`no migration creates table ${table}`);
      await knex.raw(`create table ${rel(rebuildName(table))} (like ${rel(table, SHAPE_SCHEMA)} including all)`);
      shapeIndexes.set(table, await indexesOf(knex, rel(table, SHAPE_SCHEMA)));
    }
  } finally {
    await knex.raw(`drop schema if exists ${quoteIdent(SHAPE_SCHEMA)} cascade`);
  }
  return shapeIndexes;
}

/** `like … including all` names the copies' indexes after the new table; give back the originals. */
async function restoreIndexNames(trx: Knex.Transaction, table: string, reference: readonly IndexInfo[]): Promise<void> {
  const unused = [...reference];
  for (const index of await indexesOf(trx, rel(table))) {
    const match = unused.findIndex((candidate) => candidate.shape === index.shape);
    if (match === -1) continue;
    const [original] = unused.splice(match, 1);
    if (original && original.name !== index.name) await trx.raw(`alter index ${rel(index.name)} rename to ${quoteIdent(original.name)}`);
  }
}

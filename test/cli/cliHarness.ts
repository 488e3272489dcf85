import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import type { Actor } from '../../src/events/orderEvents';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import { createLogger } from '../../src/infra/logger';
import { readModelProjections } from '../../src/infra/runtime';
import { Projector, projectedPosition } from '../../src/projections/projector';
import { spawnTs } from '../support/childProcesses';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** A line of `events export`: positions and revisions are decimal strings. */
export interface ExportedLine {
  position: string;
  streamId: string;
  revision: string;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdAt: string;
}

export const parseExportedLines = (stdout: string): ExportedLine[] =>
  stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ExportedLine);

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real executable in a child process: `node --import tsx src/cli/main.ts`, the same entry
 * the bin shim loads once compiled; tsx needs no build step, so it works from a fresh clone. The
 * default time limit stays under jest's test timeout, so a hung CLI is killed by its own test.
 */
export function runCli(args: readonly string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawnTs('src/cli/main.ts', args, {
      env: { ...process.env, LOG_LEVEL: 'warn', BCRYPT_ROUNDS: '4', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

export interface CliLedger {
  db: TestDatabase;
  store: PostgresEventStore;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function createCliLedger(): Promise<CliLedger> {
  const db = await createTestDatabase();
  const store = new PostgresEventStore({ connectionString: db.url, poolMax: 5, pollIntervalMs: 50 });
  return {
    db,
    store,
    env: { DATABASE_URL: db.url },
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

let clockMs = Date.parse('2026-03-01T09:00:00.000Z');
/** Strictly increasing event times, one minute apart, so "a past moment" falls between events. */
export function nextTime(): string {
  clockMs += 60_000;
  return new Date(clockMs).toISOString();
}

export const admin: Actor = { type: 'admin', id: 'admin-1' };

/** The commands that take an order from placement to delivery, in order. */
export function lifecycle(): OrderCommand[] {
  return [
    { type: 'MarkPaid', data: { now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'PROCESSING', now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'SHIPPED', now: nextTime() } },
    { type: 'ChangeStatus', data: { to: 'DELIVERED', now: nextTime() } },
  ];
}

/** Places an order through the real command handler and runs `steps` lifecycle commands; returns its id. */
export async function seedOrder(store: PostgresEventStore, steps = 0, extra: OrderCommand[] = []): Promise<{ orderId: string; userId: string }> {
  const orderId = randomUUID();
  const userId = randomUUID();
  const unitAmount = 1250 + Math.floor(Math.random() * 1000);
  await handleOrderCommand(
    store,
    orderId,
    {
      type: 'PlaceOrder',
      data: {
        orderId,
        userId,
        items: [{ productId: randomUUID(), sku: 'SKU-1', name: 'Widget', quantity: 2, unitAmount, lineAmount: unitAmount * 2 }],
        currency: 'EUR',
        paymentMethod: 'MANUAL',
        now: nextTime(),
      },
    },
    { context: { actor: { type: 'user', id: userId } } },
  );
  for (const command of [...lifecycle().slice(0, steps), ...extra]) {
    await handleOrderCommand(store, orderId, command, { context: { actor: admin } });
  }
  return { orderId, userId };
}

export function startProjector(ledger: CliLedger, batchSize = 50): Projector {
  const projector = new Projector({
    store: ledger.store,
    knex: ledger.db.knex,
    projections: readModelProjections,
    logger: createLogger('silent'),
    connectionString: ledger.db.url,
    batchSize,
    lockRetryMs: 100,
  });
  projector.start();
  return projector;
}

/** Bounded wait until every read model has reached the newest committed event. */
export async function waitUntilProjected(ledger: CliLedger, timeoutMs = 20_000): Promise<void> {
  const row = (await ledger.db.knex('events').max({ head: 'position' }).first()) as { head: string | null } | undefined;
  const head = BigInt(row?.head ?? '-1');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      (await projectedPosition(
        ledger.db.knex,
        readModelProjections.map((p) => p.name),
      )) >= head
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`read models did not reach ${head} within ${timeoutMs} ms`);
}

/** Runs a projector until the read models hold every event, then stops it. */
export async function projectAll(ledger: CliLedger): Promise<void> {
  const projector = startProjector(ledger);
  try {
    await waitUntilProjected(ledger);
  } finally {
    await projector.stop();
  }
}

/** Whole read-model contents in key order, for before/after comparisons. */
export async function readModelRows(ledger: Pick<CliLedger, 'db'>): Promise<{ orders: unknown[]; history: unknown[] }> {
  const orders = await ledger.db.knex('orders').orderBy('id').select('*');
  const history = await ledger.db.knex('order_history').orderBy(['order_id', 'revision']).select('*');
  return { orders, history };
}

/** A failure is exactly one line on stderr (besides progress lines), with no stack trace. */
export function expectOneLineFailure(run: CliRun): string {
  expect(run.code).not.toBe(0);
  const lines = run.stderr.split('\n').filter((line) => line.length > 0 && !/^\w+: \d+(\/\d+)? events$/.test(line));
  expect(lines).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

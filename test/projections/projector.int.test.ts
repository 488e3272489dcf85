import path from 'node:path';
import { loadOrder } from '../../src/commands/order/orderStream';
import { decodeOrderEvent, orderStreamId } from '../../src/events/codec';
import { ordersProjection } from '../../src/projections/ordersProjection';
import { projectedPosition } from '../../src/projections/projector';
import { readModelProjections } from '../../src/infra/runtime';
import { exitOf, killAndConfirmGone, processExists, spawnTs } from '../support/childProcesses';
import { createLedger, seedOrder, startProjector, waitUntilProjected, type Ledger } from '../support/ledgerHarness';
import type { ProjectorPaused } from '../support/projectorProcess';

interface Row {
  id: string;
  status: string;
  total_amount: string;
  revision: string;
  position: string;
}

/** Every order's read-model row must equal the fold of its stream, and history must have one row per event. */
async function expectReadModelsEqualFold(ledger: Ledger): Promise<number> {
  const rows = (await ledger.db.knex('orders').select('id', 'status', 'total_amount', 'revision', 'position')) as Row[];
  const byId = new Map(rows.map((r) => [r.id, r]));
  const events = await ledger.store.readAll({ limit: 100_000 });
  const orderIds = new Set(events.map((e) => decodeOrderEvent(e).event.data.orderId));
  expect(rows).toHaveLength(orderIds.size);
  for (const orderId of orderIds) {
    const folded = await loadOrder(ledger.store, orderId);
    const row = byId.get(orderId);
    expect(row).toBeDefined();
    if (folded.state.status === 'NONE') throw new Error('seeded order folded to nothing');
    expect({ status: row!.status, total: Number(row!.total_amount), revision: row!.revision, position: row!.position }).toEqual({
      status: folded.state.status,
      total: folded.state.totalAmount,
      revision: folded.revision.toString(),
      position: folded.position!.toString(),
    });
  }
  const history = (await ledger.db.knex('order_history').count({ n: '*' }).first()) as { n: string };
  expect(Number(history.n)).toBe(events.length);
  return events.length;
}

describe('projector', () => {
  let ledger: Ledger;
  beforeEach(async () => {
    ledger = await createLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });

  it('when orders go through their life, then orders and order_history equal the fold of the event store', async () => {
    const projector = startProjector(ledger, 7);
    for (let i = 0; i < 12; i++) await seedOrder(ledger, { steps: i % 5 });
    await waitUntilProjected(ledger);
    await projector.stop();
    const events = await expectReadModelsEqualFold(ledger);
    expect(events).toBe(12 + [0, 1, 2, 3, 4].reduce((sum, steps) => sum + steps, 0) * 2 + (0 + 1));
    const history = (await ledger.db.knex('order_history').orderBy(['order_id', 'revision']).select('event_type', 'from_status', 'to_status', 'actor_type')) as {
      event_type: string;
      from_status: string | null;
      to_status: string;
      actor_type: string;
    }[];
    expect(history.filter((h) => h.event_type === 'OrderPlaced').every((h) => h.from_status === null && h.to_status === 'PENDING' && h.actor_type === 'user')).toBe(true);
    expect(history.filter((h) => h.event_type === 'OrderStatusChanged' && h.to_status === 'SHIPPED').every((h) => h.from_status === 'PROCESSING')).toBe(true);
  });

  it('when the projector process is killed mid-stream and restarted, then the read model equals the fold with nothing skipped or doubled', async () => {
    for (let i = 0; i < 40; i++) await seedOrder(ledger, { steps: i % 5 });
    const head = await ledger.store.headPosition();
    const names = readModelProjections.map((p) => p.name);
    const child = spawnTs(path.join(__dirname, '../support/projectorProcess.ts'), [], {
      env: { ...process.env, DATABASE_URL: ledger.db.url, PROJECTOR_BATCH_SIZE: '3', PROJECTOR_PAUSE_AFTER_BATCHES: '4' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    // It commits four batches, opens the fifth's transaction and waits there to be killed.
    const paused = await new Promise<ProjectorPaused>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the projector did not pause within 20 s\n${stderr}`)), 20_000);
      child.once('message', (message) => {
        clearTimeout(timer);
        resolve(message as ProjectorPaused);
      });
      void exitOf(child).then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the projector exited (${code ?? signal}) before pausing\n${stderr}`));
      });
    });
    // The process that applies the batches is the one we hold, not a wrapper around it.
    expect(paused.pid).toBe(child.pid);
    expect(paused.committedBatches).toBe(4);

    expect(await killAndConfirmGone(child)).toBe('SIGKILL');
    expect(processExists(paused.pid)).toBe(false);
    const atKill = await projectedPosition(ledger.db.knex, names);
    // Exactly the committed batches survived; the open one was rolled back with the process.
    expect(atKill).toBe(BigInt(paused.committedPosition));
    expect(BigInt(paused.openBatchFrom) > atKill).toBe(true);
    expect(atKill < head).toBe(true);

    // More events arrive while no projector runs.
    for (let i = 0; i < 5; i++) await seedOrder(ledger, { steps: 4 });
    const projector = startProjector(ledger, 50);
    await waitUntilProjected(ledger);
    await projector.stop();
    await expectReadModelsEqualFold(ledger);
  });

  it('when the same events are applied twice, then the orders row does not change', async () => {
    const orderId = await seedOrder(ledger, { steps: 3 });
    // readStream, not readAll: the stream is complete at once, while $all waits for older open transactions.
    const events = (await ledger.store.readStream(orderStreamId(orderId))).map(decodeOrderEvent);
    await ledger.db.knex.transaction((trx) => ordersProjection.apply(trx, events));
    const once = await ledger.db.knex('orders').where({ id: orderId }).first();
    await ledger.db.knex.transaction((trx) => ordersProjection.apply(trx, events));
    await ledger.db.knex.transaction((trx) => ordersProjection.apply(trx, events.slice(0, 2)));
    const twice = await ledger.db.knex('orders').where({ id: orderId }).first();
    expect(twice).toEqual(once);
    expect((once as { status: string }).status).toBe('SHIPPED');
  });

  it('when two projectors start, then only one holds the lock and the other stands by', async () => {
    const first = startProjector(ledger);
    const second = startProjector(ledger);
    await seedOrder(ledger, { steps: 1 });
    await waitUntilProjected(ledger);
    const statuses = [first.status, second.status].sort();
    expect(statuses).toEqual(['running', 'standby']);
    await first.stop();
    await second.stop();
  });
});

import { randomUUID } from 'node:crypto';
import { decodeOrderRecords } from '../../src/commands/order/orderStream';
import { encodeOrderEvent, orderStreamId, type StoredOrderEvent } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';
import { orderHistoryProjection } from '../../src/projections/orderHistoryProjection';
import { ordersProjection } from '../../src/projections/ordersProjection';
import { createLedger, type Ledger } from '../support/ledgerHarness';
import { anOrder, orderPlaced, paidOrder, paymentFailed, paymentInitiated, refundRequested, statusChanged } from '../support/orderEvents';

const projections = [ordersProjection, orderHistoryProjection];
const batched = (table: string): string => `batched__${table}`;

/** Order lives of different lengths and kinds, so batch boundaries fall at the start, middle and end of streams. */
function lives(): OrderEvent[][] {
  const a = anOrder();
  const b = anOrder();
  const c = anOrder({ paymentMethod: 'STRIPE' });
  const d = anOrder();
  const e = anOrder();
  return [
    [orderPlaced(a), paymentInitiated(a, 'pi_a'), ...paidOrder(a).slice(1), statusChanged(a, 'PAID', 'PROCESSING'), statusChanged(a, 'PROCESSING', 'SHIPPED')],
    [orderPlaced(b)],
    [...paidOrder(c, 'pi_c'), refundRequested(c, { providerReference: 'pi_c', stray: false, reason: 'changed mind' })],
    [orderPlaced(d), paymentFailed(d)],
    [...paidOrder(e), refundRequested(e, { amount: 100, stray: true }), statusChanged(e, 'PAID', 'PROCESSING')],
  ];
}

/** Appends the lives one event at a time, round robin, so the streams interleave in $all. */
async function appendInterleaved(ledger: Ledger, streams: OrderEvent[][]): Promise<void> {
  const longest = Math.max(...streams.map((s) => s.length));
  for (let revision = 0; revision < longest; revision++) {
    for (const life of streams) {
      const event = life[revision];
      if (!event) continue;
      await ledger.store.appendToStream(orderStreamId(event.data.orderId), [encodeOrderEvent(event, randomUUID(), { actor: { type: 'system' } })], {
        expectedRevision: revision === 0 ? 'no_stream' : BigInt(revision - 1),
      });
    }
  }
}

async function applyInBatches(ledger: Ledger, events: readonly StoredOrderEvent[], size: number, tableOf?: (table: string) => string): Promise<void> {
  for (let i = 0; i < events.length; i += size) {
    const batch = events.slice(i, i + size);
    await ledger.db.knex.transaction(async (trx) => {
      for (const projection of projections) await projection.apply(trx, batch, tableOf);
    });
  }
}

async function rows(ledger: Ledger, tableOf: (table: string) => string): Promise<{ orders: unknown[]; history: unknown[] }> {
  return {
    orders: await ledger.db.knex(tableOf('orders')).orderBy('id').select('*'),
    history: await ledger.db.knex(tableOf('order_history')).orderBy(['order_id', 'revision']).select('*'),
  };
}

describe('projections applied in batches', () => {
  let ledger: Ledger;
  let events: StoredOrderEvent[];
  let oneAtATime: { orders: unknown[]; history: unknown[] };

  beforeAll(async () => {
    ledger = await createLedger();
    await appendInterleaved(ledger, lives());
    events = await decodeOrderRecords(ledger.store, await ledger.store.readAll({ limit: 1000 }));
    expect(events).toHaveLength(lives().flat().length);
    // The reference: every event in a transaction of its own, into the live tables.
    await applyInBatches(ledger, events, 1);
    oneAtATime = await rows(ledger, (t) => t);
    expect(oneAtATime.orders).toHaveLength(5);
    expect(oneAtATime.history).toHaveLength(events.length);
    for (const table of ['orders', 'order_history']) await ledger.db.knex.raw(`create table ${batched(table)} (like ${table} including all)`);
  });

  afterAll(async () => {
    await ledger.close();
  });

  beforeEach(async () => {
    await ledger.db.knex.raw(`truncate ${batched('orders')}, ${batched('order_history')}`);
  });

  it.each([2, 3, 4, 7, 1000])(
    'when batches of %i mix orders starting in the batch with orders continuing from earlier ones, then the rows equal event-at-a-time projection',
    async (size) => {
      await applyInBatches(ledger, events, size, batched);
      expect(await rows(ledger, batched)).toEqual(oneAtATime);
    },
  );

  it('when events already projected are applied again, from a stream start or from its middle, then no row changes', async () => {
    await applyInBatches(ledger, events, 5, batched);
    // From the first event: every order starts in the batch and already has newer rows.
    await applyInBatches(ledger, events.slice(0, 9), 9, batched);
    // From the middle of streams: the orders continue rows that are further along.
    await applyInBatches(ledger, events.slice(6, 17), 4, batched);
    await applyInBatches(ledger, events, 1000, batched);
    expect(await rows(ledger, batched)).toEqual(oneAtATime);
  });

  it('when a batch replays a stream from its start and goes past the stored row, then the row and history catch up as event at a time would', async () => {
    // The rows after the first two rounds of the interleaving, then every event again in one batch.
    await applyInBatches(ledger, events.slice(0, 10), 10, batched);
    const partial = await rows(ledger, batched);
    expect(partial.history).toHaveLength(10);
    await applyInBatches(ledger, events, events.length, batched);
    expect(await rows(ledger, batched)).toEqual(oneAtATime);
  });
});

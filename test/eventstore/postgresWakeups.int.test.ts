import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '../../src/infra/eventstore/postgresEventStore';
import type { RecordedEvent, Subscription } from '../../src/infra/eventstore/eventStore';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const event = () => ({ id: randomUUID(), type: 'Noted', data: {} });
// Far longer than the bound below: an event that arrives came through a wake-up, not the poll.
const POLL_MS = 600_000;
const BOUND_MS = 20_000;

/** The first delivered batch holding the event `id`, or undefined once the bound has passed. */
async function deliveryOf(subscription: Subscription, id: string): Promise<RecordedEvent[] | undefined> {
  const timer = setTimeout(() => void subscription.close(), BOUND_MS);
  try {
    for await (const batch of subscription) if (batch.some((e) => e.id === id)) return batch;
    return undefined;
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
}

describe('PostgresEventStore wake-ups', () => {
  let db: TestDatabase;
  let writer: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    writer = new PostgresEventStore({ connectionString: db.url, poolMax: 4, pollIntervalMs: POLL_MS });
    await writer.appendToStream(`note-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
  });
  afterAll(async () => {
    await writer.close();
    await db.drop();
  });

  // (Another store's subscriber hearing the NOTIFY is covered by the contract and realtime suites.)
  it('when a store appends, then its own idle subscriber gets the event without waiting for the poll: woken in process, its own NOTIFY ignored', async () => {
    const head = await writer.headPosition();
    const own = writer.subscribeToAll({ after: head });
    const awaited = event();
    const ownDelivery = deliveryOf(own, awaited.id);
    // Let it reach its idle sleep (an empty read, the probe).
    await new Promise((r) => setTimeout(r, 500));
    const appended = await writer.appendToStream(`note-${randomUUID()}`, [awaited], { expectedRevision: 'no_stream' });
    const ownBatch = await ownDelivery;
    expect(ownBatch?.map((e) => e.position)).toContain(appended.position);
  });
});

import { randomUUID } from 'node:crypto';
import { handleOrderCommand, StaleRevisionError } from '../../src/commands/orderCommandHandler';
import { loadOrder } from '../../src/commands/order/orderStream';
import { OrderAlreadyExistsError, OrderNotFoundError } from '../../src/commands/order/orderErrors';
import { nextTime, placeOrder } from '../support/orderBuilders';
import { createLedger, type Ledger } from '../support/ledgerHarness';
import { occurredAt } from '../../src/events/orderEvents';
import { EsdbEventStore } from '../../src/infra/eventstore/esdbEventStore';
import type { EventStore } from '../../src/infra/eventstore/eventStore';
import { InMemoryEventStore } from '../../src/infra/eventstore/memoryEventStore';
import { startFakeEsdb } from '../fakes/esdb/fakeEsdb';

describe('order command handler', () => {
  let ledger: Ledger;
  beforeAll(async () => {
    ledger = await createLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('when a command is handled, then its events are appended and the position returned', async () => {
    const place = placeOrder();
    const result = await handleOrderCommand(ledger.store, place.data.orderId, place);
    expect(result.revision).toBe(0n);
    expect(result.position).toBeDefined();
    expect(result.events.map((e) => e.type)).toEqual(['OrderPlaced']);
    const stream = await ledger.store.readStream(`order-${place.data.orderId}`);
    expect(stream[0]?.metadata).toMatchObject({ schemaVersion: 2 });
  });

  it('when several writers change one order concurrently, then every command lands after bounded retries', async () => {
    const place = placeOrder({ paymentMethod: 'STRIPE' });
    const orderId = place.data.orderId;
    await handleOrderCommand(ledger.store, orderId, place);
    const failures = Array.from({ length: 6 }, (_, i) =>
      handleOrderCommand(ledger.store, orderId, { type: 'RecordPaymentFailure', data: { provider: 'STRIPE', reason: `declined ${i}`, now: nextTime() } }, { maxAttempts: 10 }),
    );
    await Promise.all(failures);
    const snapshot = await loadOrder(ledger.store, orderId);
    expect(snapshot.revision).toBe(6n);
    expect(snapshot.state.status).toBe('PAYMENT_FAILED');
  });

  it('when If-Match names a stale revision, then it fails with 412 semantics and appends nothing', async () => {
    const place = placeOrder();
    await handleOrderCommand(ledger.store, place.data.orderId, place);
    await handleOrderCommand(ledger.store, place.data.orderId, { type: 'MarkPaid', data: { now: nextTime() } });
    const error = await handleOrderCommand(ledger.store, place.data.orderId, { type: 'ChangeStatus', data: { to: 'PROCESSING', now: nextTime() } }, { expectedRevision: 0n }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StaleRevisionError);
    expect((error as StaleRevisionError).kind).toBe('precondition_failed');
    expect((await loadOrder(ledger.store, place.data.orderId)).revision).toBe(1n);
  });

  it('when the same external message is handled twice, then the second is a no-op', async () => {
    const place = placeOrder({ paymentMethod: 'STRIPE' });
    await handleOrderCommand(ledger.store, place.data.orderId, place);
    const command = { type: 'RecordPaymentSuccess', data: { provider: 'STRIPE', amount: 1999, currency: 'USD', now: nextTime() } } as const;
    const first = await handleOrderCommand(ledger.store, place.data.orderId, command, { idempotencySource: 'evt_1' });
    await handleOrderCommand(ledger.store, place.data.orderId, { type: 'ChangeStatus', data: { to: 'PROCESSING', now: nextTime() } });
    const again = await handleOrderCommand(ledger.store, place.data.orderId, command, { idempotencySource: 'evt_1' });
    expect(first.unchanged).toBe(false);
    expect(again.unchanged).toBe(true);
    expect((await loadOrder(ledger.store, place.data.orderId)).revision).toBe(2n);
  });

  it('when ten deliveries of the same message race, then one event is stored', async () => {
    const place = placeOrder({ paymentMethod: 'STRIPE' });
    await handleOrderCommand(ledger.store, place.data.orderId, place);
    const command = { type: 'RecordPaymentSuccess', data: { provider: 'STRIPE', amount: 1999, currency: 'USD', now: nextTime() } } as const;
    const results = await Promise.all(Array.from({ length: 10 }, () => handleOrderCommand(ledger.store, place.data.orderId, command, { idempotencySource: 'evt_race' })));
    // The store answers a duplicate append with the original result, so every caller sees the same position.
    expect(new Set(results.map((r) => r.position)).size).toBe(1);
    const snapshot = await loadOrder(ledger.store, place.data.orderId);
    expect(snapshot.revision).toBe(1n);
    expect(snapshot.state.status).toBe('PAID');
  });

  it('when a fresh order id is handled as a new stream, then it is placed without reading the stream first', async () => {
    const place = placeOrder();
    const result = await handleOrderCommand(ledger.store, place.data.orderId, place, { newStream: true });
    expect(result.revision).toBe(0n);
    expect(result.unchanged).toBe(false);
    expect((await loadOrder(ledger.store, place.data.orderId)).state.status).toBe('PENDING');
  });

  it('when a stream claimed to be new already exists, then the command is decided again on the loaded stream', async () => {
    const place = placeOrder();
    await handleOrderCommand(ledger.store, place.data.orderId, place);
    const error = await handleOrderCommand(ledger.store, place.data.orderId, { ...place, data: { ...place.data, now: nextTime() } }, { newStream: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrderAlreadyExistsError);
    expect((await loadOrder(ledger.store, place.data.orderId)).revision).toBe(0n);
  });

  it('when a command targets an order that does not exist, then it fails with ORDER_NOT_FOUND naming it', async () => {
    const orderId = randomUUID();
    const error = await handleOrderCommand(ledger.store, orderId, { type: 'MarkPaid', data: { now: nextTime() } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrderNotFoundError);
    expect((error as Error).message).toContain(orderId);
  });
});

describe.each([
  ['PostgreSQL', 'postgres'],
  ['in-memory', 'memory'],
  ['KurrentDB (gRPC test server; cannot tell a retry from a write)', 'esdb'],
] as const)('order command handler on %s: deterministic ids already stored by another writer', (_name, kind) => {
  let store: EventStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    if (kind === 'postgres') {
      const ledger = await createLedger();
      store = ledger.store;
      close = () => ledger.close();
    } else if (kind === 'memory') {
      const memory = new InMemoryEventStore();
      store = memory;
      close = () => memory.close();
    } else {
      const fake = await startFakeEsdb();
      const esdb = new EsdbEventStore({ connectionString: fake.connectionString });
      store = esdb;
      close = async () => {
        await esdb.close();
        await fake.close();
      };
    }
  });
  afterAll(async () => {
    await close();
  });

  const paid = (now: string) => ({ type: 'RecordPaymentSuccess', data: { provider: 'STRIPE', amount: 1999, currency: 'USD', now } }) as const;

  it('when the first writer appends, then its answer is what it decided and says it changed the order', async () => {
    const place = placeOrder({ paymentMethod: 'STRIPE' });
    await handleOrderCommand(store, place.data.orderId, place);
    const now = nextTime();
    const first = await handleOrderCommand(store, place.data.orderId, paid(now), { idempotencySource: `evt_${randomUUID()}` });
    expect(first.unchanged).toBe(false);
    expect(first.events.map((e) => e.type)).toEqual(['PaymentSucceeded']);
    expect(occurredAt(first.events[0]!)).toBe(now);
  });

  it('when a second writer decided the same message on the stream as it was before, with its own clock, then it answers with the stored events, not its own', async () => {
    const place = placeOrder({ paymentMethod: 'STRIPE' });
    const orderId = place.data.orderId;
    await handleOrderCommand(store, orderId, place);
    const before = await loadOrder(store, orderId);
    const source = `evt_${randomUUID()}`;
    const firstNow = nextTime();
    const first = await handleOrderCommand(store, orderId, paid(firstNow), { idempotencySource: source });
    // The same ids at the same expected revision: the store answers with the first writer's result.
    const second = await handleOrderCommand(store, orderId, paid(nextTime()), { idempotencySource: source, loaded: before });
    const stored = await loadOrder(store, orderId);
    expect(stored.revision).toBe(1n);
    expect(occurredAt(stored.events[1]!.event)).toBe(firstNow);
    expect(second).toMatchObject({ unchanged: true, events: [], revision: first.revision, position: first.position });
    expect(second.state).toEqual(stored.state);
    expect(second.stream.events.map((e) => e.event)).toEqual(stored.events.map((e) => e.event));
  });
});

import { availableStock, decideStock, evolveStock, foldStock, initialStockState, type StockCommand, type StockState } from '../../src/commands/stock/stockDecider';
import { parseStockSnapshotState, STOCK_SNAPSHOT_SCHEMA } from '../../src/commands/stock/stockSnapshot';
import { OutOfStockError, StockAdjustmentRefusedError } from '../../src/commands/stock/stockErrors';
import type { StockEvent } from '../../src/events/stockEvents';

const productId = '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13';
const orderA = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const orderB = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const now = '2026-03-01T09:00:00.000Z';

const given = (...events: StockEvent[]): StockState => events.reduce(evolveStock, initialStockState);
const tracking: StockEvent = { type: 'StockTrackingStarted', data: { productId, startedAt: now } };
const received = (quantity: number): StockEvent => ({ type: 'StockReceived', data: { productId, quantity, receivedAt: now } });
const reserved = (orderId: string, quantity: number): StockEvent => ({ type: 'StockReserved', data: { productId, orderId, quantity, reservedAt: now } });
const committed = (orderId: string, quantity: number): StockEvent => ({ type: 'StockCommitted', data: { productId, orderId, quantity, committedAt: now } });
const released = (orderId: string, quantity: number): StockEvent => ({
  type: 'StockReleased',
  data: { productId, orderId, quantity, reason: 'cancelled', releasedAt: now },
});

const reserve = (orderId: string, quantity: number): StockCommand => ({ type: 'ReserveStock', data: { productId, orderId, quantity, now } });
const counts = (state: StockState) => (state.tracked ? { onHand: state.onHand, reserved: state.reserved, available: availableStock(state) } : 'untracked');

/** Folds the decided events and checks what must always hold: on hand never negative, reserved never above it. */
function then(state: StockState, command: StockCommand): { events: StockEvent[]; after: StockState } {
  const events = decideStock(command, state);
  const after = events.reduce(evolveStock, state);
  if (after.tracked) {
    expect(after.onHand).toBeGreaterThanOrEqual(0);
    expect(after.reserved).toBeGreaterThanOrEqual(0);
    expect(after.reserved).toBeLessThanOrEqual(after.onHand);
  }
  return { events, after };
}

describe('stock decider', () => {
  it('given an untracked product, when stock is received, then tracking starts and on hand is the quantity', () => {
    const { events, after } = then(initialStockState, { type: 'ReceiveStock', data: { productId, quantity: 5, now } });
    expect(events.map((e) => e.type)).toEqual(['StockTrackingStarted', 'StockReceived']);
    expect(counts(after)).toEqual({ onHand: 5, reserved: 0, available: 5 });
  });

  it('given a tracked product, when stock is received again, then only StockReceived is appended', () => {
    const { events, after } = then(given(tracking, received(5)), { type: 'ReceiveStock', data: { productId, quantity: 3, now } });
    expect(events.map((e) => e.type)).toEqual(['StockReceived']);
    expect(counts(after)).toEqual({ onHand: 8, reserved: 0, available: 8 });
  });

  it('given an untracked product, when an order reserves it, then nothing is held (unlimited)', () => {
    expect(decideStock(reserve(orderA, 1000), initialStockState)).toEqual([]);
    expect(availableStock(initialStockState)).toBeUndefined();
  });

  it('given 5 on hand, when an order reserves 5, then available is 0; and a second order for 1 is refused naming what is available', () => {
    const { events, after } = then(given(tracking, received(5)), reserve(orderA, 5));
    expect(events).toEqual([reserved(orderA, 5)]);
    expect(counts(after)).toEqual({ onHand: 5, reserved: 5, available: 0 });
    expect(() => decideStock(reserve(orderB, 1), after)).toThrow(OutOfStockError);
    try {
      decideStock(reserve(orderB, 1), after);
    } catch (error) {
      expect((error as OutOfStockError).details).toEqual({ products: [{ productId, requested: 1, available: 0 }] });
    }
  });

  it('given an order already holding stock, when it reserves again (retry), then nothing changes', () => {
    expect(decideStock(reserve(orderA, 2), given(tracking, received(5), reserved(orderA, 2)))).toEqual([]);
  });

  it('given an order whose reservation was released or fully returned (final), when it reserves again, then nothing is reserved: closed reservations are kept for this', () => {
    expect(decideStock(reserve(orderA, 2), given(tracking, received(5), reserved(orderA, 2), released(orderA, 2)))).toEqual([]);
    const returnedAll: StockEvent = { type: 'StockReturned', data: { productId, orderId: orderA, quantity: 2, returnedAt: now } };
    expect(decideStock(reserve(orderA, 2), given(tracking, received(5), reserved(orderA, 2), committed(orderA, 2), returnedAll))).toEqual([]);
  });

  it('given a reservation, when it is committed, then on hand and reserved both drop; a second commit changes nothing', () => {
    const state = given(tracking, received(5), reserved(orderA, 2));
    const { events, after } = then(state, { type: 'CommitStock', data: { orderId: orderA, now } });
    expect(events).toEqual([committed(orderA, 2)]);
    expect(counts(after)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    expect(decideStock({ type: 'CommitStock', data: { orderId: orderA, now } }, after)).toEqual([]);
    expect(decideStock({ type: 'ReleaseStock', data: { orderId: orderA, reason: 'late', now } }, after)).toEqual([]);
  });

  it('given a reservation, when it is released, then available comes back; a second release or a commit changes nothing', () => {
    const state = given(tracking, received(5), reserved(orderA, 2));
    const { events, after } = then(state, { type: 'ReleaseStock', data: { orderId: orderA, reason: 'cancelled', now } });
    expect(events).toEqual([released(orderA, 2)]);
    expect(counts(after)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    expect(decideStock({ type: 'ReleaseStock', data: { orderId: orderA, reason: 'cancelled', now } }, after)).toEqual([]);
    expect(decideStock({ type: 'CommitStock', data: { orderId: orderA, now } }, after)).toEqual([]);
  });

  it('given an order for which nothing was reserved, when it is released or committed, then nothing happens', () => {
    const state = given(tracking, received(5));
    expect(decideStock({ type: 'ReleaseStock', data: { orderId: orderA, reason: 'cancelled', now } }, state)).toEqual([]);
    expect(decideStock({ type: 'CommitStock', data: { orderId: orderA, now } }, state)).toEqual([]);
  });

  it('given a committed order, when units come back, then on hand grows, never by more than the order took', () => {
    const state = given(tracking, received(5), reserved(orderA, 2), committed(orderA, 2));
    const first = then(state, { type: 'ReturnStock', data: { orderId: orderA, quantity: 1, now } });
    expect(counts(first.after)).toEqual({ onHand: 4, reserved: 0, available: 4 });
    const second = then(first.after, { type: 'ReturnStock', data: { orderId: orderA, quantity: 5, now } });
    expect(second.events).toEqual([{ type: 'StockReturned', data: { productId, orderId: orderA, quantity: 1, returnedAt: now } }]);
    expect(decideStock({ type: 'ReturnStock', data: { orderId: orderA, quantity: 1, now } }, second.after)).toEqual([]);
  });

  it('given a reservation not yet paid, when a return is asked, then nothing comes back (it was never taken)', () => {
    expect(decideStock({ type: 'ReturnStock', data: { orderId: orderA, quantity: 1, now } }, given(tracking, received(5), reserved(orderA, 2)))).toEqual([]);
  });

  it('given 5 on hand with 3 reserved, when an adjustment would leave less than 3, then it is refused; down to exactly 3 is allowed', () => {
    const state = given(tracking, received(5), reserved(orderA, 3));
    const adjust = (delta: number): StockCommand => ({ type: 'AdjustStock', data: { productId, delta, reason: 'count', now } });
    expect(() => decideStock(adjust(-3), state)).toThrow(StockAdjustmentRefusedError);
    expect(counts(then(state, adjust(-2)).after)).toEqual({ onHand: 3, reserved: 3, available: 0 });
  });

  it('given an untracked product, when adjusted down, then it is refused; adjusted up, then tracking starts', () => {
    const adjust = (delta: number): StockCommand => ({ type: 'AdjustStock', data: { productId, delta, reason: 'first count', now } });
    expect(() => decideStock(adjust(-1), initialStockState)).toThrow(StockAdjustmentRefusedError);
    const { events, after } = then(initialStockState, adjust(7));
    expect(events.map((e) => e.type)).toEqual(['StockTrackingStarted', 'StockAdjusted']);
    expect(counts(after)).toEqual({ onHand: 7, reserved: 0, available: 7 });
  });
});

describe('folding many stock events at once', () => {
  const orders = ['a', 'b', 'c', 'd', 'e', 'f'].map((letter) => `${letter.repeat(8)}-0000-4000-8000-000000000000`);
  const history: StockEvent[] = [
    tracking,
    received(50),
    ...orders.map((orderId) => reserved(orderId, 2)),
    released(orders[0]!, 2),
    committed(orders[1]!, 2),
    committed(orders[2]!, 2),
    { type: 'StockReturned', data: { productId, orderId: orders[2]!, quantity: 1, returnedAt: now } },
    { type: 'StockAdjusted', data: { productId, delta: -4, reason: 'count', adjustedAt: now } },
    // Events a fold must pass over: a second tracking start, a release of an order that never reserved.
    tracking,
    released('99999999-0000-4000-8000-000000000000', 1),
  ];

  it('given any prefix of a history, when it is folded at once onto any earlier state, then the state is the one evolve reaches event by event, and the earlier state is unchanged', () => {
    for (let start = 0; start <= history.length; start++) {
      for (let end = start; end <= history.length; end++) {
        const before = given(...history.slice(0, start));
        const copy = structuredClone(before);
        expect(foldStock(before, history.slice(start, end))).toEqual(history.slice(start, end).reduce(evolveStock, before));
        expect(before).toEqual(copy);
      }
    }
  });

  it('given a history, when folded with a look after each event, then each look sees the counts evolve reaches there', () => {
    const seen: unknown[] = [];
    foldStock(initialStockState, history, (state) => seen.push(counts(state)));
    expect(seen).toEqual(history.map((_, i) => counts(given(...history.slice(0, i + 1)))));
  });
});

describe('stock snapshots of the fold', () => {
  it(`given a fixed history, when folded, then the state is exactly this (changing it means bumping STOCK_SNAPSHOT_SCHEMA, now ${STOCK_SNAPSHOT_SCHEMA})`, () => {
    // Snapshots written by this fold are trusted by any reader of the same schema: a fold that
    // folds differently must not read them. If this test fails, bump the schema, then update it.
    expect(STOCK_SNAPSHOT_SCHEMA).toBe('stock-state/1');
    const state = given(tracking, received(5), reserved(orderA, 2), committed(orderA, 2), reserved(orderB, 1), released(orderB, 1));
    expect(JSON.parse(JSON.stringify(state))).toEqual({
      tracked: true,
      productId,
      onHand: 3,
      reserved: 0,
      reservations: { [orderA]: { quantity: 2, status: 'COMMITTED', returned: 0 }, [orderB]: { quantity: 1, status: 'RELEASED', returned: 0 } },
    });
    expect(parseStockSnapshotState(JSON.parse(JSON.stringify(state)))).toEqual(state);
    expect(parseStockSnapshotState(initialStockState)).toEqual(initialStockState);
  });

  it('given snapshot states that are not what the fold writes, when parsed, then none is accepted', () => {
    const good = { tracked: true, productId, onHand: 3, reserved: 0, reservations: { [orderA]: { quantity: 2, status: 'COMMITTED', returned: 0 } } };
    const bad: unknown[] = [
      null,
      [],
      { tracked: 'yes' },
      { ...good, onHand: 1.5 },
      { ...good, extra: 1 },
      { ...good, reservations: [] },
      { ...good, reservations: { [orderA]: { quantity: 2, status: 'SHIPPED', returned: 0 } } },
      { ...good, reservations: { [orderA]: { quantity: 2, status: 'COMMITTED' } } },
      { ...good, reservations: { [orderA]: { quantity: 2, status: 'COMMITTED', returned: 0, note: 'x' } } },
      { ...good, reservations: { [orderA]: null } },
    ];
    for (const state of bad) expect(parseStockSnapshotState(state)).toBeUndefined();
    expect(parseStockSnapshotState(good)).toEqual(good);
  });
});

import { availableStock, decideStock, evolveStock, initialStockState, type StockCommand, type StockState } from '../../src/commands/stock/stockDecider';
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

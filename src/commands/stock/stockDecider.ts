import type { Decider } from '../decider';
import type { StockEvent } from '../../events/stockEvents';
import { OutOfStockError, StockAdjustmentRefusedError } from './stockErrors';

/** One order's hold on the product: reserved, then released or committed; committed units may come back. */
export interface Reservation {
  quantity: number;
  status: 'RESERVED' | 'RELEASED' | 'COMMITTED';
  /** Committed units back on hand (refund before shipping, returns). */
  returned: number;
}

export type StockState =
  | { tracked: false }
  | {
      tracked: true;
      productId: string;
      onHand: number;
      reserved: number;
      reservations: Readonly<Record<string, Reservation>>;
    };

export type StockCommand =
  | { type: 'ReceiveStock'; data: { productId: string; quantity: number; now: string } }
  | { type: 'AdjustStock'; data: { productId: string; delta: number; reason: string; now: string } }
  | { type: 'ReserveStock'; data: { productId: string; orderId: string; quantity: number; now: string } }
  | { type: 'ReleaseStock'; data: { orderId: string; reason: string; now: string } }
  | { type: 'CommitStock'; data: { orderId: string; now: string } }
  | { type: 'ReturnStock'; data: { orderId: string; quantity: number; now: string } };

export const initialStockState: StockState = { tracked: false };

/** On hand minus reserved; undefined for an untracked (unlimited) product. */
export function availableStock(state: StockState): number | undefined {
  return state.tracked ? state.onHand - state.reserved : undefined;
}

function startTracking(productId: string, now: string, state: StockState): StockEvent[] {
  return state.tracked ? [] : [{ type: 'StockTrackingStarted', data: { productId, startedAt: now } }];
}

function reservationOf(state: StockState, orderId: string): Reservation | undefined {
  return state.tracked ? state.reservations[orderId] : undefined;
}

export function decideStock(command: StockCommand, state: StockState): StockEvent[] {
  switch (command.type) {
    case 'ReceiveStock': {
      const { productId, quantity, now } = command.data;
      return [...startTracking(productId, now, state), { type: 'StockReceived', data: { productId, quantity, receivedAt: now } }];
    }
    case 'AdjustStock': {
      const { productId, delta, reason, now } = command.data;
      const onHand = state.tracked ? state.onHand : 0;
      const reserved = state.tracked ? state.reserved : 0;
      if (onHand + delta < reserved) throw new StockAdjustmentRefusedError(productId, onHand, reserved, delta);
      return [...startTracking(productId, now, state), { type: 'StockAdjusted', data: { productId, delta, reason, adjustedAt: now } }];
    }
    case 'ReserveStock': {
      const { productId, orderId, quantity, now } = command.data;
      // Untracked means unlimited: nothing to hold.
      if (!state.tracked || state.reservations[orderId]) return [];
      const available = state.onHand - state.reserved;
      if (quantity > available) throw new OutOfStockError([{ productId, requested: quantity, available }]);
      return [{ type: 'StockReserved', data: { productId, orderId, quantity, reservedAt: now } }];
    }
    case 'ReleaseStock': {
      const { orderId, reason, now } = command.data;
      const reservation = reservationOf(state, orderId);
      if (!state.tracked || reservation?.status !== 'RESERVED') return [];
      return [{ type: 'StockReleased', data: { productId: state.productId, orderId, quantity: reservation.quantity, reason, releasedAt: now } }];
    }
    case 'CommitStock': {
      const { orderId, now } = command.data;
      const reservation = reservationOf(state, orderId);
      if (!state.tracked || reservation?.status !== 'RESERVED') return [];
      return [{ type: 'StockCommitted', data: { productId: state.productId, orderId, quantity: reservation.quantity, committedAt: now } }];
    }
    case 'ReturnStock': {
      const { orderId, now } = command.data;
      const reservation = reservationOf(state, orderId);
      if (!state.tracked || reservation?.status !== 'COMMITTED') return [];
      // Never more back than the order took.
      const quantity = Math.min(command.data.quantity, reservation.quantity - reservation.returned);
      if (quantity <= 0) return [];
      return [{ type: 'StockReturned', data: { productId: state.productId, orderId, quantity, returnedAt: now } }];
    }
    default: {
      const exhaustive: never = command;
      throw new Error(`unhandled stock command ${JSON.stringify(exhaustive)}`);
    }
  }
}

type Reservations = Record<string, Reservation>;

/**
 * What one event does to the state: the one implementation behind `evolveStock` and `foldStock`.
 * `writable` hands back a reservations map this step may change in place (never the given state's
 * own, unless the caller made that copy itself).
 */
function step(state: StockState, event: StockEvent, writable: (reservations: Readonly<Reservations>) => Reservations): StockState {
  if (event.type === 'StockTrackingStarted') {
    return state.tracked ? state : { tracked: true, productId: event.data.productId, onHand: 0, reserved: 0, reservations: {} };
  }
  if (!state.tracked) return state; // a stream that does not start with StockTrackingStarted: nothing to fold onto
  const withReservation = (orderId: string, change: (r: Reservation) => Reservation): Readonly<Reservations> => {
    const current = state.reservations[orderId];
    if (!current) return state.reservations;
    const reservations = writable(state.reservations);
    reservations[orderId] = change(current);
    return reservations;
  };
  switch (event.type) {
    case 'StockReceived':
      return { ...state, onHand: state.onHand + event.data.quantity };
    case 'StockAdjusted':
      return { ...state, onHand: state.onHand + event.data.delta };
    case 'StockReserved': {
      const reservations = writable(state.reservations);
      reservations[event.data.orderId] = { quantity: event.data.quantity, status: 'RESERVED', returned: 0 };
      return { ...state, reserved: state.reserved + event.data.quantity, reservations };
    }
    case 'StockReleased':
      return {
        ...state,
        reserved: state.reserved - event.data.quantity,
        reservations: withReservation(event.data.orderId, (r) => ({ ...r, status: 'RELEASED' })),
      };
    case 'StockCommitted':
      return {
        ...state,
        onHand: state.onHand - event.data.quantity,
        reserved: state.reserved - event.data.quantity,
        reservations: withReservation(event.data.orderId, (r) => ({ ...r, status: 'COMMITTED' })),
      };
    case 'StockReturned':
      return {
        ...state,
        onHand: state.onHand + event.data.quantity,
        reservations: withReservation(event.data.orderId, (r) => ({ ...r, returned: r.returned + event.data.quantity })),
      };
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

export function evolveStock(state: StockState, event: StockEvent): StockState {
  return step(state, event, (reservations) => ({ ...reservations }));
}

/**
 * `events.reduce(evolveStock, state)` without copying the reservations once per event: the fold
 * copies them once and changes its own copy, so folding n events onto r reservations costs
 * O(r + n), not O(r × n). `state` is left as it was. `afterEach` sees the state after each event;
 * its reservations are the fold's working copy, so read them there or not at all.
 */
export function foldStock(state: StockState, events: Iterable<StockEvent>, afterEach?: (state: StockState) => void): StockState {
  let owned: Reservations | undefined;
  const writable = (reservations: Readonly<Reservations>): Reservations => (reservations === owned ? owned : (owned = { ...reservations }));
  let current = state;
  for (const event of events) {
    current = step(current, event, writable);
    afterEach?.(current);
  }
  return current;
}

export const stockDecider: Decider<StockState, StockCommand, StockEvent> = {
  decide: decideStock,
  evolve: evolveStock,
  initialState: initialStockState,
};

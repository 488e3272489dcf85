import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError, messageOf } from './api';
import { positionAfter } from './format';
import { follow, onPush, onResume } from './realtime';
import type { Order, OrderUpdatePayload } from './types';

/** Keeps the order that has seen more events: answers and pushes may arrive out of order. */
export function newer(current: Order | undefined | null, fresh: Order): Order {
  return current && positionAfter(current.position, fresh.position) ? current : fresh;
}

/** What a push tells about an order, applied before the fetch that brings the rest (revision, payment). */
export function applyPush(order: Order, push: OrderUpdatePayload): Order {
  if (!positionAfter(push.position, order.position)) return order;
  return { ...order, status: push.status, updatedAt: push.updatedAt, position: push.position };
}

export const fetchOrder = async (id: string, minPosition?: string): Promise<Order> =>
  (await api<{ data: Order }>('GET', `/orders/${id}${minPosition ? `?minPosition=${encodeURIComponent(minPosition)}` : ''}`)).data;

/**
 * Runs `task` for a key at most once at a time; calls arriving meanwhile fold into one more run
 * with the latest argument, so a burst of pushes costs two requests, not one each.
 */
export function coalesced<A>(task: (key: string, arg: A) => Promise<void>): (key: string, arg: A) => void {
  const running = new Set<string>();
  const queued = new Map<string, A>();
  const run = (key: string, arg: A): void => {
    if (running.has(key)) {
      queued.set(key, arg);
      return;
    }
    running.add(key);
    void task(key, arg)
      .catch(() => undefined)
      .finally(() => {
        running.delete(key);
        if (queued.has(key)) {
          const next = queued.get(key) as A;
          queued.delete(key);
          run(key, next);
        }
      });
  };
  return run;
}

/** Positions of commands this tab just sent, by order id: the first read of that order waits for them. */
const written = new Map<string, string>();

export function rememberWrite(orderId: string, position: string): void {
  written.set(orderId, position);
}

/** One order, followed live: pushes change it at once, a fetch (waiting for the push's position) completes it. */
export function useLiveOrder(id: string, onUpdate?: (push: OrderUpdatePayload) => void) {
  const [order, setOrder] = useState<Order | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [recording, setRecording] = useState(false);

  const load = useCallback(
    async (minPosition?: string) => {
      try {
        const fresh = await fetchOrder(id, minPosition);
        setOrder((current) => newer(current, fresh));
        setError(null);
        setRecording(false);
      } catch (failure) {
        // Our own write not readable yet (the read model is behind): the push will bring it.
        const behind = minPosition !== undefined && failure instanceof ApiError && (failure.status === 404 || failure.code === 'CONSISTENCY_TIMEOUT');
        setRecording(behind);
        setError(behind ? null : messageOf(failure));
      }
    },
    [id],
  );

  useEffect(() => {
    setOrder(null);
    const position = written.get(id);
    written.delete(id);
    void load(position);
    const refresh = coalesced((_key, position: string | undefined) => load(position));
    const offs = [
      follow(id),
      onPush('orderUpdate', (push) => {
        if (push.orderId !== id) return;
        setOrder((current) => (current ? applyPush(current, push) : current));
        onUpdate?.(push);
        refresh(id, push.position);
      }),
      onResume(() => refresh(id, undefined)),
    ];
    return () => offs.forEach((off) => off());
    // onUpdate is read when a push arrives; following it would rejoin the room on every render.
  }, [id, load]);

  return { order, setOrder, error, recording, load };
}

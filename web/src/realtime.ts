import { io, type Socket } from 'socket.io-client';
import { positionAfter } from './format';
import { session, signOut } from './session';
import { createStore } from './store';
import type { AnnouncementPayload, ClientToServerEvents, RoomAck, ServerToClientEvents } from './types';

/**
 * The reference Socket.io client (README: Real time): the JWT travels in the handshake's `auth`,
 * never in the URL; on every connect (first and reconnects) it joins its order rooms and tells the
 * pages to fetch what they show (resume), since pushes may have been missed before it was in them.
 */

export type ConnectionStatus = 'offline' | 'connecting' | 'live' | 'reconnecting';
type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type EventName = keyof ServerToClientEvents;
type Payload<E extends EventName> = Parameters<ServerToClientEvents[E]>[0];

export const connection = createStore<ConnectionStatus>('offline');
/** Newest first, the last five. */
export const announcements = createStore<AnnouncementPayload[]>([]);

const ACK_TIMEOUT_MS = 5000;
const MAX_SEEN = 2000;

let socket: AppSocket | undefined;
let connectedBefore = false;
const followed = new Map<string, number>();
const resumeListeners = new Set<() => void>();
const listeners: { [E in EventName]?: Set<(payload: Payload<E>) => void> } = {};
/** Last position delivered per event and order: pushes are at least once, a repeat is dropped. */
const seen = new Map<string, string>();

function emit<E extends EventName>(event: E, payload: Payload<E>): void {
  const set = listeners[event];
  for (const listener of [...(set ?? [])]) listener(payload);
}

function deliver<E extends 'orderCreated' | 'orderUpdate'>(event: E, payload: Payload<E>): void {
  const key = `${event}:${payload.orderId}`;
  const last = seen.get(key);
  if (last !== undefined && !positionAfter(payload.position, last)) return;
  if (seen.size >= MAX_SEEN) seen.delete(seen.keys().next().value as string);
  seen.set(key, payload.position);
  emit(event, payload);
}

function join(target: AppSocket, orderId: string): void {
  target.timeout(ACK_TIMEOUT_MS).emit('joinOrder', { orderId }, (error: Error | null, answer?: RoomAck) => {
    // Pushes to the owner and to admins arrive anyway; the room only adds followers. Nothing to undo.
    if (error || !answer?.ok) console.warn(`could not follow order ${orderId}: ${error?.message ?? (answer && !answer.ok ? answer.error.message : 'no answer')}`);
  });
}

export function startRealtime(): void {
  stopRealtime();
  const created: AppSocket = io({
    transports: ['websocket'],
    // A function, so every reconnect presents the token the tab holds now.
    auth: (callback) => callback({ token: session.get()?.token ?? '' }),
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 10_000,
  });
  socket = created;
  connectedBefore = false;
  connection.set('connecting');
  created.on('connect', () => {
    connection.set('live');
    for (const orderId of followed.keys()) join(created, orderId);
    // Every connect, the first included: a page that fetched before the socket joined its rooms
    // (a slow or refused first handshake) would otherwise never see the pushes sent in between.
    for (const listener of [...resumeListeners]) listener();
    connectedBefore = true;
  });
  created.on('disconnect', (reason) => {
    if (reason === 'io client disconnect') {
      connection.set('offline');
      return;
    }
    // The server ends a socket itself only when its token stops being valid.
    if (reason === 'io server disconnect') {
      signOut('Your session has ended. Sign in again.');
      return;
    }
    connection.set('reconnecting');
  });
  created.on('connect_error', (error: Error & { data?: { type?: string; code?: string } }) => {
    if (error.data?.type === 'authentication') {
      signOut(error.data.code === 'TOKEN_EXPIRED' ? 'Your session expired. Sign in again.' : 'Your session is no longer valid. Sign in again.');
      return;
    }
    connection.set(created.active ? (connectedBefore ? 'reconnecting' : 'connecting') : 'offline');
  });
  created.on('orderCreated', (payload) => deliver('orderCreated', payload));
  created.on('orderUpdate', (payload) => deliver('orderUpdate', payload));
  created.on('paymentSuccess', (payload) => emit('paymentSuccess', payload));
  created.on('paymentFailed', (payload) => emit('paymentFailed', payload));
  created.on('announcement', (payload) => {
    announcements.update((list) => [payload, ...list].slice(0, 5));
    emit('announcement', payload);
  });
}

export function stopRealtime(): void {
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = undefined;
  seen.clear();
  announcements.set([]);
  connection.set('offline');
}

/** Joins the order's room while something on the page shows it; returns the matching leave. */
export function follow(orderId: string): () => void {
  const count = followed.get(orderId) ?? 0;
  followed.set(orderId, count + 1);
  if (count === 0 && socket?.connected) join(socket, orderId);
  return () => {
    const left = (followed.get(orderId) ?? 1) - 1;
    if (left > 0) {
      followed.set(orderId, left);
      return;
    }
    followed.delete(orderId);
    if (socket?.connected) socket.timeout(ACK_TIMEOUT_MS).emit('leaveOrder', { orderId }, () => undefined);
  };
}

export function onPush<E extends EventName>(event: E, listener: (payload: Payload<E>) => void): () => void {
  const set = (listeners[event] ??= new Set()) as Set<(payload: Payload<E>) => void>;
  set.add(listener);
  return () => set.delete(listener);
}

/** Called on every connect, the first included: refetch what the page shows. */
export function onResume(listener: () => void): () => void {
  resumeListeners.add(listener);
  return () => resumeListeners.delete(listener);
}

import type { RedisStreamsAdapterOptions } from '@socket.io/redis-streams-adapter';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { createRedis, type Redis } from '../redis';
import type { OrderStatus } from '../../events/orderEvents';
import type { AuthUser } from '../http/authTokens';

/** The Socket.io contract between the server (api role, notifier) and clients. */

export interface OrderCreatedPayload {
  orderId: string;
  userId: string;
  status: OrderStatus;
  totalAmount: number;
  currency: string;
  placedAt: string;
  position: string;
}

export interface OrderUpdatePayload {
  orderId: string;
  status: OrderStatus;
  /** null when the order was just placed. */
  previousStatus: OrderStatus | null;
  updatedAt: string;
  /** Global position of the event (decimal string): clients may drop a push they have already seen. */
  position: string;
}

export interface PaymentSuccessPayload {
  orderId: string;
  amount: number;
  currency: string;
}

export interface PaymentFailedPayload {
  orderId: string;
  message: string;
}

/** A return moved: requested by the owner, approved or rejected by an admin, received. */
export interface ReturnUpdatePayload {
  orderId: string;
  returnId: string;
  status: 'REQUESTED' | 'APPROVED' | 'REJECTED' | 'RECEIVED';
  updatedAt: string;
  position: string;
}

/** A partial refund moved: given back, or refused by the provider. */
export interface RefundUpdatePayload {
  orderId: string;
  /** null: the provider gave money back on its own. */
  refundId: string | null;
  status: 'SUCCEEDED' | 'FAILED';
  amount: number | null;
  currency: string | null;
  position: string;
}

export interface AnnouncementPayload {
  message: string;
  at: string;
}

export interface ServerToClientEvents {
  orderCreated(payload: OrderCreatedPayload): void;
  orderUpdate(payload: OrderUpdatePayload): void;
  paymentSuccess(payload: PaymentSuccessPayload): void;
  paymentFailed(payload: PaymentFailedPayload): void;
  returnUpdate(payload: ReturnUpdatePayload): void;
  refundUpdate(payload: RefundUpdatePayload): void;
  announcement(payload: AnnouncementPayload): void;
}

export type RoomAck = { ok: true; orderId: string } | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  joinOrder(payload: { orderId: string }, ack: (answer: RoomAck) => void): void;
  leaveOrder(payload: { orderId: string }, ack: (answer: RoomAck) => void): void;
}

export interface SocketData {
  /** As the account is now: a role change moves the socket in or out of the admins room. */
  user: AuthUser;
  /** JWT exp, seconds since the epoch. */
  expiresAt: number;
  /** jti and version of the token the socket was opened with: revoking it disconnects the socket. */
  tokenId: string;
  tokenVersion: number;
  /** Orders of other users this socket follows as an admin; left when the user is demoted. */
  adminOrders: string[];
}

export const ADMINS_ROOM = 'admins';
export const userRoom = (userId: string): string => `user:${userId}`;
export const orderRoom = (orderId: string): string => `order:${orderId}`;

/**
 * Every process (API instances and the notifier) must agree on these names, and parallel
 * deployments or test runs sharing one Redis must not: hence REDIS_KEY_PREFIX in each.
 */
export function socketAdapterOptions(config: Config): RedisStreamsAdapterOptions {
  const prefix = `${config.REDIS_KEY_PREFIX}socket.io`;
  return {
    streamName: prefix,
    channelPrefix: prefix,
    sessionKeyPrefix: `${prefix}:session:`,
    maxLen: 10_000,
    onlyPlaintext: true,
    // Bounds how long a closing server waits for its stream reader.
    blockTimeInMs: 250,
  };
}

export interface AdapterRedis {
  /** Hand this to the adapter; it publishes on it and duplicates it for its readers. */
  client: Redis;
  /** Resolves once the stream reader has a start position: every broadcast appended later reaches it. */
  reading: Promise<void>;
  /** Call after the adapter has closed: waits (bounded) for its readers to end, then closes the client. */
  close(): Promise<void>;
}

export function createAdapterRedis(config: Config, logger: Logger): AdapterRedis {
  const client = createRedis(config);
  client.on('error', (error) => logger.warn({ err: error.message }, 'socket.io redis connection error'));
  const duplicates: Redis[] = [];
  const duplicate = client.duplicate.bind(client);
  let started: () => void = () => undefined;
  const reading = new Promise<void>((resolve) => {
    started = resolve;
  });
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    pinStartOfStream(copy, started);
    // The adapter drops SUBSCRIBE's promise; a close before Redis answered would surface as an
    // unhandled rejection.
    const subscribe = copy.subscribe.bind(copy) as (...channels: string[]) => Promise<unknown>;
    copy.subscribe = ((...channels: string[]) => {
      const pending = subscribe(...channels);
      pending.catch(() => undefined);
      return pending;
    }) as Redis['subscribe'];
    duplicates.push(copy);
    return copy;
  };
  return {
    client,
    reading,
    async close() {
      // A closed adapter ends its subscriber at once and its stream reader when XREAD returns.
      const deadline = Date.now() + (socketAdapterOptions(config).blockTimeInMs ?? 1000) + 500;
      while (duplicates.some((copy) => copy.status !== 'end') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const copy of duplicates) if (copy.status !== 'end') copy.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

type XreadArgument = string | number | Buffer;

/**
 * The adapter reads the stream from `$` until its first entry arrives, and `$` means "entries
 * appended after this XREAD starts blocking": a broadcast appended between one blocking read timing
 * out and the next one being sent (a busy event loop stretches that gap) was lost for good. Redis's
 * advice is `$` on the first read only; so the first read resolves `$` to the stream's last entry
 * (or 0-0 when empty) and every later `$` reads from there, until the adapter has an entry id of its
 * own. Only the reader calls XREAD, so wrapping every duplicate touches nothing else.
 */
function pinStartOfStream(copy: Redis, started: () => void): void {
  const xread = copy.xread.bind(copy) as (...args: XreadArgument[]) => Promise<unknown>;
  let start: Promise<string> | undefined;
  (copy as unknown as { xread: (...args: XreadArgument[]) => Promise<unknown> }).xread = (...args) => {
    const last = args.length - 1;
    if (args[last] !== '$') return xread(...args);
    const stream = String(args[last - 1]);
    start ??= copy.xrevrange(stream, '+', '-', 'COUNT', 1).then(
      (entries) => {
        started();
        return entries[0]?.[0] ?? '0-0';
      },
      (error: unknown) => {
        start = undefined;
        throw error;
      },
    );
    return start.then((id) => xread(...args.slice(0, last), id));
  };
}

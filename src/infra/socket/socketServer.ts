import type http from 'node:http';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Server, type Socket } from 'socket.io';
import { z } from 'zod';
import { loadOrder } from '../../commands/order/orderStream';
import type { AuthChange } from '../auth/authState';
import { checkAccount } from '../auth/authenticator';
import type { Deps } from '../deps';
import { UnauthorizedError, type AuthUser } from '../http/authTokens';
import { SocketEventGate, UserSocketLimits } from './socketLimits';
import {
  ADMINS_ROOM,
  createAdapterRedis,
  orderRoom,
  socketAdapterOptions,
  userRoom,
  type ClientToServerEvents,
  type RoomAck,
  type ServerToClientEvents,
  type SocketData,
} from './socketEvents';

export type SocketIo = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData & { pendingReplay?: unknown[][] }>;
type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData & { pendingReplay?: unknown[][] }>;

export interface SocketServer {
  io: SocketIo;
  /** Resolves once broadcasts from other processes reach this instance (its stream reader has a position). */
  reading: Promise<void>;
  close(): Promise<void>;
}

/** A socket may follow this many orders at once; joinOrder beyond it is refused. */
export const MAX_ORDER_ROOMS_PER_SOCKET = 100;
// setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days).
const MAX_TIMER_MS = 2_147_483_647;

const roomRequestSchema = z.object({ orderId: z.uuid() });

/** Why a joinOrder/leaveOrder payload was refused, showing the shape expected. */
function roomRequestProblem(payload: unknown): string {
  // The most common slip: emit('joinOrder', id) instead of emit('joinOrder', { orderId: id }).
  if (typeof payload === 'string') return 'the payload must be an object { orderId }, not a bare string';
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'the payload must be an object { orderId }';
  return 'orderId must be a UUID';
}

function authenticationError(code: string, message: string): Error {
  const error = new Error(`Authentication error: ${message}`) as Error & { data: unknown };
  error.data = { type: 'authentication', code };
  return error;
}

function refused(code: string, message: string): RoomAck {
  return { ok: false, error: { code, message } };
}

function limitError(code: string, message: string, retryAfterMs?: number): Error {
  const error = new Error(message) as Error & { data: unknown };
  error.data = retryAfterMs === undefined ? { type: 'rate_limit', code } : { type: 'rate_limit', code, retryAfterMs };
  return error;
}

/** Redis or the database did not answer: the client may retry. */
function unavailableError(): Error {
  const error = new Error('Could not accept the connection; retry shortly') as Error & { data: unknown };
  error.data = { type: 'unavailable', code: 'UNAVAILABLE' };
  return error;
}

type Reply = (answer: RoomAck) => void;
const noReply: Reply = () => undefined;

/** Owner of an order from the read model, or from its stream when the read model has not caught up. */
async function findOrderOwner(deps: Deps, orderId: string): Promise<string | undefined> {
  const row = (await deps.knex('orders').where('id', orderId).first('user_id')) as { user_id: string } | undefined;
  if (row) return row.user_id;
  const { state } = await loadOrder(deps.store, orderId);
  return state.status === 'NONE' ? undefined : state.userId;
}

/**
 * Socket.io on the API's HTTP server. The Redis streams adapter carries broadcasts between API
 * instances and the notifier, and keeps sessions so a client that drops briefly is recovered (with
 * the pushes it missed) on any instance. Every connection, recovered or not, passes the token and
 * account check and the connection limits; every client event passes the event limits; every
 * account change (notified, or found by the periodic recheck) is applied to the open sockets.
 */
export function createSocketServer(httpServer: http.Server, deps: Deps): SocketServer {
  const { config, logger: rootLogger, authenticator } = deps;
  const logger = rootLogger.child({ component: 'socket' });
  const redis = createAdapterRedis(config, logger);
  const limits = new UserSocketLimits(deps.redis, config, logger);
  const origins = config.CORS_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean);

  const io: SocketIo = new Server(httpServer, {
    adapter: createAdapter(redis.client, socketAdapterOptions(config)),
    // The auth middleware must also run for recovered sessions (the default skips it).
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: false },
    cors: { origin: origins, credentials: false },
    // Client messages are a few hundred bytes (the handshake carries the JWT); larger ones close the connection.
    maxHttpBufferSize: config.SOCKET_MAX_MESSAGE_BYTES,
    connectTimeout: 10_000,
    serveClient: false,
  });

  // Packets missed while disconnected are held back until the middleware has checked the token.
  const adapter = io.of('/').adapter;
  const restoreSession = adapter.restoreSession.bind(adapter);
  adapter.restoreSession = async (pid, offset) => {
    const session = await restoreSession(pid, offset);
    if (!session) return session;
    return { ...session, data: { ...(session.data as object), pendingReplay: session.missedPackets }, missedPackets: [] };
  };

  const admit = async (socket: AppSocket, next: (error?: Error) => void): Promise<void> => {
    const replay = socket.data.pendingReplay;
    delete socket.data.pendingReplay;
    const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || token.length === 0) {
      next(authenticationError('UNAUTHORIZED', 'a token is required in auth.token'));
      return;
    }
    let verified: Awaited<ReturnType<typeof authenticator.authenticate>>;
    try {
      verified = await authenticator.authenticate(token);
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) {
        logger.warn({ err: error }, 'socket token could not be checked');
        next(unavailableError());
        return;
      }
      next(authenticationError(error.code, error.message));
      return;
    }
    const user: AuthUser = { id: verified.id, email: verified.email, role: verified.role };
    if (socket.recovered) {
      const previous = socket.data.user as SocketData['user'] | undefined;
      if (previous?.id !== user.id || previous.role !== user.role) {
        // Another identity (or role) took over the session: start clean rather than inherit its rooms.
        for (const room of socket.rooms) if (room !== socket.id) void socket.leave(room);
        socket.data.adminOrders = [];
      } else if (replay) {
        socket.data.pendingReplay = replay;
      }
    }
    // Shared by every instance: a user cannot open more than SOCKET_MAX_CONNECTIONS_PER_USER
    // sockets, nor reconnect in a loop to get fresh per-socket budgets.
    try {
      const attempt = await limits.consumeConnect(user.id);
      if (!attempt.ok) {
        next(limitError('RATE_LIMITED', 'Too many connection attempts; retry later', attempt.retryAfterMs));
        return;
      }
      if (!(await limits.acquireConnection(user.id, socket.id))) {
        next(limitError('TOO_MANY_CONNECTIONS', `At most ${config.SOCKET_MAX_CONNECTIONS_PER_USER} connections per user`));
        return;
      }
    } catch (error) {
      logger.warn({ err: error }, 'socket connection limits could not be checked');
      next(unavailableError());
      return;
    }
    socket.data.user = user;
    socket.data.expiresAt = verified.expiresAt;
    socket.data.tokenId = verified.tokenId;
    socket.data.tokenVersion = verified.tokenVersion;
    socket.data.adminOrders = Array.isArray(socket.data.adminOrders) ? socket.data.adminOrders : [];
    next();
  };
  // socket.io drops a middleware's promise: a failure past the checks above must still answer the handshake.
  io.use((socket, next) => {
    admit(socket, next).catch((error: unknown) => {
      logger.error({ err: error }, 'socket admission failed');
      next(unavailableError());
    });
  });

  // This instance's sockets by user, to act on account changes.
  const byUser = new Map<string, Set<AppSocket>>();

  /** Applies the account as it is now to a socket: gone, disabled or revoked disconnects; a new role moves rooms. */
  const applyAccount = (socket: AppSocket, account: Parameters<typeof checkAccount>[0]): void => {
    let current: AuthUser;
    try {
      current = checkAccount(account, { tokenId: socket.data.tokenId, version: socket.data.tokenVersion });
    } catch (error) {
      logger.info({ userId: socket.data.user.id, code: (error as UnauthorizedError).code }, 'socket no longer authorized; disconnecting');
      socket.disconnect(true);
      return;
    }
    const previous = socket.data.user;
    socket.data.user = current;
    if (current.role === previous.role) return;
    if (current.role === 'admin') {
      void socket.join(ADMINS_ROOM);
      return;
    }
    void socket.leave(ADMINS_ROOM);
    for (const orderId of socket.data.adminOrders) void socket.leave(orderRoom(orderId));
    socket.data.adminOrders = [];
  };

  /** Reads the accounts of these users (all of this instance's when 'all') and applies them to their sockets. */
  const recheck = async (change: AuthChange): Promise<void> => {
    const userIds = change === 'all' ? [...byUser.keys()] : change.filter((id) => byUser.has(id));
    if (userIds.length === 0) return;
    const accounts = await deps.auth.refresh(userIds);
    for (const id of userIds) for (const socket of byUser.get(id) ?? []) applyAccount(socket, accounts.get(id));
  };
  const recheckLogged = (change: AuthChange): void => {
    recheck(change).catch((error: unknown) => logger.warn({ err: error }, 'could not recheck socket accounts; the next sweep will'));
  };
  const unsubscribe = deps.auth.onChange(recheckLogged);
  // The safety net for lost notifications, like the HTTP cache's TTL: every connected account is read again.
  const sweep = setInterval(() => recheckLogged('all'), config.AUTH_STATE_TTL_MS);
  sweep.unref();

  io.on('connection', (socket: AppSocket) => {
    // The user id never changes for a socket; role and email may (socket.data.user is kept current).
    const user = { id: socket.data.user.id };
    void socket.join(userRoom(user.id));
    if (socket.data.user.role === 'admin') void socket.join(ADMINS_ROOM);
    const mine = byUser.get(user.id) ?? new Set<AppSocket>();
    mine.add(socket);
    byUser.set(user.id, mine);

    let expiryTimer: NodeJS.Timeout | undefined;
    const scheduleExpiry = (): void => {
      const remaining = socket.data.expiresAt * 1000 - Date.now();
      if (remaining <= 0) {
        logger.debug({ userId: user.id }, 'socket token expired; disconnecting');
        socket.disconnect(true);
        return;
      }
      expiryTimer = setTimeout(scheduleExpiry, Math.min(remaining, MAX_TIMER_MS));
      expiryTimer.unref();
    };
    scheduleExpiry();
    socket.on('disconnect', () => {
      clearTimeout(expiryTimer);
      limits.releaseConnection(user.id, socket.id);
      mine.delete(socket);
      if (mine.size === 0 && byUser.get(user.id) === mine) byUser.delete(user.id);
    });

    // Every client packet passes this gate before any handler runs; what it refuses costs no I/O.
    const gate = new SocketEventGate(config);
    const refuse = (reply: Reply, message: string): void => {
      reply(refused('RATE_LIMITED', message));
      if (gate.refusedTooOften() && socket.connected) {
        logger.warn({ userId: user.id }, 'socket kept sending after being rate limited; disconnecting');
        socket.disconnect(true);
      }
    };
    socket.use((packet, next) => {
      const refusal = gate.admitEvent();
      if (refusal === undefined) {
        next();
        return;
      }
      const last: unknown = packet[packet.length - 1];
      refuse(typeof last === 'function' ? (last as Reply) : noReply, refusal);
    });
    /** Runs a handler under the per-socket bound on unanswered work and the user's shared event budget. */
    const guarded =
      (handle: (payload: unknown) => Promise<RoomAck>) =>
      async (payload: unknown, ack: unknown): Promise<void> => {
        const reply = typeof ack === 'function' ? (ack as Reply) : noReply;
        const busy = gate.beginWork();
        if (busy !== undefined) return refuse(reply, busy);
        try {
          const budget = await limits.consumeEvent(user.id);
          if (!budget.ok) return refuse(reply, `Too many events from this user; retry in ${budget.retryAfterMs} ms`);
          // Dropped meanwhile (for flooding, say): nobody is left to answer.
          if (!socket.connected) return;
          reply(await handle(payload));
        } catch (error) {
          logger.warn({ err: error }, 'socket event failed');
          reply(refused('UNAVAILABLE', 'Could not handle the request; try again'));
        } finally {
          gate.endWork();
        }
      };

    const replay = socket.data.pendingReplay;
    delete socket.data.pendingReplay;
    for (const packet of replay ?? []) {
      // The stored packet ends with its stream offset; emitting again stamps a fresh one.
      const [event, ...args] = packet.slice(0, -1) as [keyof ServerToClientEvents, ...unknown[]];
      (socket.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
    }

    socket.on(
      'joinOrder',
      guarded(async (payload) => {
        const parsed = roomRequestSchema.safeParse(payload);
        if (!parsed.success) return refused('VALIDATION_FAILED', roomRequestProblem(payload));
        const { orderId } = parsed.data;
        try {
          const owner = await findOrderOwner(deps, orderId);
          // The role as it is after the look-up: a demotion meanwhile must not let the join through.
          const asAdmin = owner !== undefined && owner !== user.id && socket.data.user.role === 'admin';
          if (!owner || (owner !== user.id && !asAdmin)) return refused('ORDER_NOT_FOUND', 'No such order for this user');
          const followed = [...socket.rooms].filter((room) => room.startsWith('order:')).length;
          if (!socket.rooms.has(orderRoom(orderId)) && followed >= MAX_ORDER_ROOMS_PER_SOCKET) {
            return refused('TOO_MANY_ORDERS', `A connection may follow at most ${MAX_ORDER_ROOMS_PER_SOCKET} orders`);
          }
          void socket.join(orderRoom(orderId));
          if (asAdmin && !socket.data.adminOrders.includes(orderId)) socket.data.adminOrders.push(orderId);
          return { ok: true, orderId };
        } catch (error) {
          logger.warn({ err: error, orderId }, 'joinOrder could not check the order');
          return refused('UNAVAILABLE', 'Could not check the order; try again');
        }
      }),
    );

    socket.on(
      'leaveOrder',
      guarded(async (payload) => {
        const parsed = roomRequestSchema.safeParse(payload);
        if (!parsed.success) return refused('VALIDATION_FAILED', roomRequestProblem(payload));
        await socket.leave(orderRoom(parsed.data.orderId));
        socket.data.adminOrders = socket.data.adminOrders.filter((id) => id !== parsed.data.orderId);
        return { ok: true, orderId: parsed.data.orderId };
      }),
    );
  });

  return {
    io,
    reading: redis.reading,
    async close() {
      // "forced server close" is a recoverable reason: sessions are kept so clients resume elsewhere.
      io.engine.close();
      limits.close();
      clearInterval(sweep);
      unsubscribe();
      await Promise.resolve(io.of('/').adapter.close()).catch(() => undefined);
      await redis.close();
    },
  };
}

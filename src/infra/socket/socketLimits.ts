import { randomBytes } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import type { Redis } from '../redis';
import { TokenBucket } from './tokenBucket';

export type SocketLimitSettings = Pick<
  Config,
  | 'SOCKET_EVENT_RATE'
  | 'SOCKET_EVENT_BURST'
  | 'SOCKET_MAX_PENDING_CHECKS'
  | 'SOCKET_REFUSALS_BEFORE_DISCONNECT'
  | 'SOCKET_USER_EVENT_LIMIT'
  | 'SOCKET_USER_EVENT_WINDOW_SECONDS'
  | 'SOCKET_USER_CONNECTS_PER_MINUTE'
  | 'SOCKET_MAX_CONNECTIONS_PER_USER'
>;

/** Refusals are counted over this window: more than SOCKET_REFUSALS_BEFORE_DISCONNECT in it and the socket is dropped. */
export const REFUSAL_WINDOW_SECONDS = 10;

/**
 * One socket's own limits, checked in process before anything else runs: a packet refused here
 * has cost a few arithmetic operations, no Redis call and no database query.
 */
export class SocketEventGate {
  private readonly events: TokenBucket;
  private readonly refusals: TokenBucket;
  private pending = 0;

  constructor(
    private readonly limits: SocketLimitSettings,
    now: () => number = () => performance.now(),
  ) {
    this.events = new TokenBucket(limits.SOCKET_EVENT_BURST, limits.SOCKET_EVENT_RATE, now);
    const allowed = limits.SOCKET_REFUSALS_BEFORE_DISCONNECT;
    this.refusals = new TokenBucket(allowed, allowed / REFUSAL_WINDOW_SECONDS, now);
  }

  /** Counts one incoming event; the refusal message when the socket is over its rate. */
  admitEvent(): string | undefined {
    if (this.events.take()) return undefined;
    return `Too many events on this connection (at most ${this.limits.SOCKET_EVENT_RATE}/s, bursts of ${this.limits.SOCKET_EVENT_BURST}); retry in ${this.events.msUntilNext()} ms`;
  }

  /** Starts a piece of work that may touch Redis or the database; the refusal message when too many are unanswered. */
  beginWork(): string | undefined {
    if (this.pending >= this.limits.SOCKET_MAX_PENDING_CHECKS) {
      return `Too many unanswered requests on this connection (at most ${this.limits.SOCKET_MAX_PENDING_CHECKS}); wait for their acks`;
    }
    this.pending += 1;
    return undefined;
  }

  endWork(): void {
    this.pending -= 1;
  }

  /** Records a refusal; true once the socket has been refused more often than it may be and must be dropped. */
  refusedTooOften(): boolean {
    return !this.refusals.take();
  }
}

export type Verdict = { ok: true } | { ok: false; retryAfterMs: number };

const REDIS_TIMEOUT_MS = 1000;
/** A connection's entry in Redis lives this long unless its instance renews it (every third of it). */
export const CONNECTION_LEASE_MS = 60_000;

// Counts the user's live connections (entries whose lease has not run out) and adds this one if
// there is room, in one atomic step so two instances cannot both take the last place.
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

const RENEW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

type ScriptCall = (key: string, ...args: string[]) => Promise<unknown>;

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
      // A bound, not work: it must not keep a stopping process alive.
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A per-user budget kept in Redis, so it is shared by every API instance. While the user is over
 * it, refusals come from memory until the window ends (no Redis round trip); while Redis does not
 * answer within a second, a per-instance budget of the same size stands in.
 */
function sharedLimiter(redis: Redis, keyPrefix: string, points: number, durationSeconds: number): RateLimiterAbstract {
  return new RLWrapperTimeouts({
    limiter: new RateLimiterRedis({
      storeClient: redis,
      keyPrefix,
      points,
      duration: durationSeconds,
      inMemoryBlockOnConsumed: points,
      rejectIfRedisNotReady: true,
    }),
    timeoutMs: REDIS_TIMEOUT_MS,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${keyPrefix}:local`, points, duration: durationSeconds }),
  });
}

async function verdict(limiter: RateLimiterAbstract, key: string): Promise<Verdict> {
  try {
    await limiter.consume(key);
    return { ok: true };
  } catch (error) {
    if (error instanceof RateLimiterRes) return { ok: false, retryAfterMs: Math.max(1, error.msBeforeNext) };
    throw error;
  }
}

/**
 * The limits that must hold per user across every API instance: client events, connection
 * attempts and open connections. Connections are entries in a sorted set per user, scored by the
 * end of their lease; each instance renews the leases of its own connections, so the entries of an
 * instance that died run out within CONNECTION_LEASE_MS.
 */
export class UserSocketLimits {
  private readonly events: RateLimiterAbstract;
  private readonly connects: RateLimiterAbstract;
  /** This instance's connections by user: the renewals, and the bound while Redis is unreachable. */
  private readonly local = new Map<string, Set<string>>();
  private readonly instance = randomBytes(6).toString('hex');
  private readonly renewTimer: NodeJS.Timeout;
  private readonly acquire: ScriptCall;
  private readonly renewScript: ScriptCall;

  constructor(
    private readonly redis: Redis,
    private readonly settings: SocketLimitSettings & Pick<Config, 'REDIS_KEY_PREFIX'>,
    private readonly logger: Logger,
  ) {
    const prefix = `${settings.REDIS_KEY_PREFIX}socket-limit`;
    this.events = sharedLimiter(redis, `${prefix}:events`, settings.SOCKET_USER_EVENT_LIMIT, settings.SOCKET_USER_EVENT_WINDOW_SECONDS);
    this.connects = sharedLimiter(redis, `${prefix}:connects`, settings.SOCKET_USER_CONNECTS_PER_MINUTE, 60);
    redis.defineCommand('orderLedgerSocketAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
    redis.defineCommand('orderLedgerSocketRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    const scripts = redis as unknown as Record<'orderLedgerSocketAcquire' | 'orderLedgerSocketRenew', ScriptCall>;
    this.acquire = scripts.orderLedgerSocketAcquire.bind(redis);
    this.renewScript = scripts.orderLedgerSocketRenew.bind(redis);
    this.renewTimer = setInterval(() => void this.renew(), CONNECTION_LEASE_MS / 3);
    this.renewTimer.unref();
  }

  /** One client event against the user's budget (SOCKET_USER_EVENT_LIMIT per window, all sockets, all instances). */
  consumeEvent(userId: string): Promise<Verdict> {
    return verdict(this.events, userId);
  }

  /** One connection attempt against the user's budget (SOCKET_USER_CONNECTS_PER_MINUTE). */
  consumeConnect(userId: string): Promise<Verdict> {
    return verdict(this.connects, userId);
  }

  /**
   * Takes one of the user's SOCKET_MAX_CONNECTIONS_PER_USER places; false when all are taken on
   * some instance. Without Redis, only this instance's connections are counted.
   */
  async acquireConnection(userId: string, socketId: string): Promise<boolean> {
    const mine = this.local.get(userId) ?? new Set<string>();
    const max = this.settings.SOCKET_MAX_CONNECTIONS_PER_USER;
    if (mine.size >= max) return false;
    const member = `${this.instance}:${socketId}`;
    let granted: boolean;
    try {
      granted = (await bounded(this.acquire(this.key(userId), member, String(max), String(CONNECTION_LEASE_MS)), REDIS_TIMEOUT_MS)) === 1;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'socket connection count unavailable in Redis; counting this instance only');
      granted = true;
    }
    if (granted) {
      mine.add(member);
      this.local.set(userId, mine);
    }
    return granted;
  }

  releaseConnection(userId: string, socketId: string): void {
    const member = `${this.instance}:${socketId}`;
    const mine = this.local.get(userId);
    if (!mine?.delete(member)) return;
    if (mine.size === 0) this.local.delete(userId);
    // A lost ZREM only keeps the place taken until the lease runs out.
    bounded(this.redis.zrem(this.key(userId), member), REDIS_TIMEOUT_MS).catch(() => undefined);
  }

  close(): void {
    clearInterval(this.renewTimer);
  }

  private async renew(): Promise<void> {
    const users = [...this.local].filter(([, members]) => members.size > 0);
    // In slices, so a large instance does not queue every renewal on the connection at once.
    for (let start = 0; start < users.length; start += 500) {
      const results = await Promise.allSettled(
        users.slice(start, start + 500).map(([userId, members]) => bounded(this.renewScript(this.key(userId), String(CONNECTION_LEASE_MS), ...members), REDIS_TIMEOUT_MS)),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        this.logger.warn({ err: (failed.reason as Error).message }, 'could not renew socket connection leases');
        return;
      }
    }
  }

  private key(userId: string): string {
    return `${this.settings.REDIS_KEY_PREFIX}socket-limit:connections:${userId}`;
  }
}

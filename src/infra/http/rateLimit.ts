import type { Request, RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { AppError, UnavailableError } from '../../errors';
import type { Deps } from '../deps';
import { hasOwnRateLimit } from './queueDashboardPath';

export class RateLimitedError extends AppError {
  constructor(code: string, message: string, retryAfterSeconds: number | undefined) {
    super('rate_limited', code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
  }
}

export interface LimiterOptions {
  /** Distinguishes this limiter's counters from the others' under REDIS_KEY_PREFIX. */
  name: string;
  limit: number;
  code: string;
  message: string;
  skip?: (req: Request) => boolean;
  /** Who a request counts against; the client IP when absent. */
  keyGenerator?: (req: Request) => string;
  /** Let requests through when Redis does not answer (default true). */
  failOpen?: boolean;
}

const REDIS_COMMAND_TIMEOUT_MS = 1000;

/**
 * A Redis call that gives up after a bound instead of queueing while Redis is unreachable. The
 * timeout is checked once more after the event loop's I/O phase: a process that was not scheduled
 * for a while (a loaded machine) runs its expired timers before reading the reply that arrived
 * meanwhile, and must not call an answered command unreachable.
 */
export function boundedRedisCall(redis: Pick<Deps['redis'], 'call'>, command: string, args: string[], timeoutMs = REDIS_COMMAND_TIMEOUT_MS): Promise<RedisReply> {
  let timer: NodeJS.Timeout | undefined;
  let late: NodeJS.Immediate | undefined;
  return Promise.race([
    redis.call(command, ...args) as Promise<RedisReply>,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = setImmediate(() => reject(new UnavailableError('RATE_LIMITER_UNAVAILABLE', 'Rate limiter store is unreachable; retry shortly')));
      }, timeoutMs);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    if (late) clearImmediate(late);
  });
}

/**
 * Counters live in Redis so a limit holds across API instances. While Redis is unreachable, a
 * limiter either lets requests through after a one-second bound (`failOpen`, logged) or answers 503:
 * the login limiter fails closed so an outage never opens the door to password guessing.
 */
export function createLimiter(deps: Deps, options: LimiterOptions): RequestHandler {
  const { config, logger } = deps;
  const skip = options.skip;
  return rateLimit({
    windowMs: config.RATE_LIMIT_WINDOW_MS,
    limit: options.limit,
    standardHeaders: 'draft-8',
    identifier: options.name,
    legacyHeaders: false,
    store: new RedisStore({
      prefix: `${config.REDIS_KEY_PREFIX}rate-limit:${options.name}:`,
      sendCommand: (command: string, ...args: string[]) => boundedRedisCall(deps.redis, command, args),
    }),
    passOnStoreError: options.failOpen ?? true,
    ...(skip ? { skip } : {}),
    ...(options.keyGenerator ? { keyGenerator: options.keyGenerator } : {}),
    logger: {
      error: (error, message) => logger.error({ err: error, limiter: options.name }, message ?? 'rate limiter error'),
      warn: (error, message) => logger.warn({ err: error, limiter: options.name }, message ?? 'rate limiter warning'),
    },
    handler: (req, _res, next) => {
      const resetTime = (req as typeof req & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : undefined;
      next(new RateLimitedError(options.code, options.message, retryAfter));
    },
  });
}

// Probes from load balancers, orchestrators and scrapers must never be throttled.
const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);
// The API documentation: Swagger UI loads half a dozen files per visit, and reading the docs must
// not spend the budget the reader is about to try the API with.
const DOCS_PATHS: ReadonlySet<string> = new Set(['/api-docs', '/api-docs.json']);
const DOCS_PREFIX = '/api-docs/';

/** Reads that cost us next to nothing and are not the API: probes, the documentation and the web front's files. */
function isUnmeteredRead(req: Pick<Request, 'method' | 'path'>, staticPaths: ReadonlySet<string>): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const path = req.path;
  return PROBE_PATHS.has(path) || DOCS_PATHS.has(path) || path.startsWith(DOCS_PREFIX) || staticPaths.has(path);
}

/**
 * RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS per client, across every route but unmetered
 * reads (`isUnmeteredRead`); `staticPaths` are the exact files of the built web front, so loading
 * the page spends none of the API budget.
 */
export function globalRateLimit(deps: Deps, staticPaths: ReadonlySet<string> = new Set()): RequestHandler {
  return createLimiter(deps, {
    name: 'global',
    limit: deps.config.RATE_LIMIT_MAX,
    code: 'RATE_LIMITED',
    message: 'Too many requests; retry later',
    skip: (req) => isUnmeteredRead(req, staticPaths) || hasOwnRateLimit(req.path),
  });
}

/** The stricter budget for password guessing: LOGIN_RATE_LIMIT_MAX attempts per window per client. */
export function loginRateLimit(deps: Deps): RequestHandler {
  return createLimiter(deps, {
    name: 'login',
    limit: deps.config.LOGIN_RATE_LIMIT_MAX,
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many login attempts; retry later',
    failOpen: false,
  });
}

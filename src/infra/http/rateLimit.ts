import type { Request, RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { AppError } from '../../errors';
import type { Deps } from '../deps';

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
  skip?: (path: string) => boolean;
  /** Who a request counts against; the client IP when absent. */
  keyGenerator?: (req: Request) => string;
}

/**
 * Counters live in Redis so a limit holds across API instances. While Redis is unreachable the
 * shared ioredis client queues commands, so limited requests wait for it rather than pass unchecked.
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
      sendCommand: (command: string, ...args: string[]) => deps.redis.call(command, ...args) as Promise<RedisReply>,
    }),
    ...(skip ? { skip: (req) => skip(req.path) } : {}),
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

// Probes from load balancers and orchestrators must never be throttled.
const UNLIMITED_PATHS = new Set(['/health', '/ready']);

/** RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS per client, across every route but the probes. */
export function globalRateLimit(deps: Deps): RequestHandler {
  return createLimiter(deps, {
    name: 'global',
    limit: deps.config.RATE_LIMIT_MAX,
    code: 'RATE_LIMITED',
    message: 'Too many requests; retry later',
    skip: (path) => UNLIMITED_PATHS.has(path),
  });
}

/** The stricter budget for password guessing: LOGIN_RATE_LIMIT_MAX attempts per window per client. */
export function loginRateLimit(deps: Deps): RequestHandler {
  return createLimiter(deps, {
    name: 'login',
    limit: deps.config.LOGIN_RATE_LIMIT_MAX,
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many login attempts; retry later',
  });
}

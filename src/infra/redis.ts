import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config/config';

export type { Redis };

export function redisOptions(config: Config): RedisOptions {
  return {
    host: config.REDIS_HOST,
    port: config.REDIS_PORT,
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
    db: config.REDIS_DB,
    connectTimeout: 5000,
    // BullMQ requires null here; others may set their own bound.
    maxRetriesPerRequest: null,
    lazyConnect: false,
  };
}

/** REDIS_URL wins over REDIS_HOST/PORT/PASSWORD/DB when both are given. */
export function createRedis(config: Config, overrides: RedisOptions = {}): Redis {
  if (config.REDIS_URL) return new Redis(config.REDIS_URL, { connectTimeout: 5000, maxRetriesPerRequest: null, ...overrides });
  return new Redis({ ...redisOptions(config), ...overrides });
}

import { loadConfig, type Config } from '../config/config';
import type { Deps } from '../deps';
import { createLogger } from '../logger';
import { createApp } from './app';
import { createTokenService } from './authTokens';
import { documentQueueDashboard } from './queueDashboard';
import { withPaymentRoutes } from './routes/paymentRoutes';

export type ApiDocument = ReturnType<typeof createApp>['openApiDocument'];

/**
 * A stand-in for a connection the documentation never uses: registering routes only stores it.
 * Any use throws, naming it, so a route that starts touching infrastructure while registering is noticed.
 */
function notConnected<T extends object>(name: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      // Not a promise: awaiting the stand-in must not look like a use.
      if (property === 'then') return undefined;
      throw new Error(`${name}.${String(property)}: the documentation build has no ${name}`);
    },
  });
}

/**
 * The OpenAPI document the API serves at /api-docs.json, built the way the api role builds it
 * (same app, same routes, payment routes and the queue dashboard's included) but without a database, Redis or a listening
 * server, for `npm run docs:generate`. The configuration is the defaults unless given, so the
 * generated files do not depend on the machine they were made on.
 */
export function buildApiDocument(config: Config = loadConfig({ ENV_FILE: 'none' })): ApiDocument {
  const tokens = createTokenService(config.jwtSecret, config.JWT_EXPIRES_IN_SECONDS);
  const deps: Deps = {
    config,
    logger: createLogger('silent'),
    knex: notConnected('database'),
    store: notConnected('event store'),
    dataKeys: notConnected('data key store'),
    // The rate limiters load their Lua scripts at creation; that use fails and is logged (silently) by express-rate-limit.
    redis: notConnected('Redis'),
    tokens,
    auth: notConnected('account cache'),
    authenticator: notConnected('authenticator'),
    waiter: notConnected('projection waiter'),
    // Documents GET /metrics as an api process without OPS_PORT serves it.
    metrics: notConnected('metrics registry'),
    orderReads: notConnected('read models'),
    clock: () => new Date(),
  };
  return createApp(deps, documentQueueDashboard(withPaymentRoutes(deps))).openApiDocument;
}

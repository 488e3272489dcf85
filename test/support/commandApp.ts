import { InMemoryDataKeyStore } from '../../src/infra/privacy/memoryDataKeyStore';
import { randomBytes, randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { loadOrder } from '../../src/commands/order/orderStream';
import { encodeOrderEvent, orderStreamId, type EncodeContext } from '../../src/events/codec';
import type { OrderEvent } from '../../src/events/orderEvents';
import { AuthState } from '../../src/infra/auth/authState';
import { claimsOnlyAuthenticator } from '../../src/infra/auth/authenticator';
import { loadConfig, type Config } from '../../src/infra/config/config';
import { createKnex } from '../../src/infra/db/knex';
import type { Deps } from '../../src/infra/deps';
import type { EventStore, RecordedEvent } from '../../src/infra/eventstore/eventStore';
import { InMemoryEventStore } from '../../src/infra/eventstore/memoryEventStore';
import { createApp } from '../../src/infra/http/app';
import { createTokenService, type Role } from '../../src/infra/http/authTokens';
import { withPaymentRoutes } from '../../src/infra/http/routes/paymentRoutes';
import { createLogger } from '../../src/infra/logger';
import { PaymentProviders } from '../../src/infra/payments/paymentProviders';
import { createRedis } from '../../src/infra/redis';
import { ProjectionWaiter } from '../../src/queries/consistency';
import { orderFromEvents } from '../../src/queries/orderQueries';
import { TEST_JWT_SECRET } from './apiHarness';

/**
 * The HTTP API over the in-memory event store: no PostgreSQL. For command and payment behaviour in
 * the given events / when a request / then new events style. Tokens are real signed JWTs checked on
 * their claims (accounts live in PostgreSQL; the auth tests cover them). Command answers read the
 * order the way the `orders` projection would show it, computed from the stream (always caught up),
 * so the read model's lag is not part of these tests. Rate limits use the real Redis, as in production.
 */
export interface CommandApp {
  request: supertest.Agent;
  config: Config;
  deps: Deps;
  /** The store the app writes to. */
  store: InMemoryEventStore;
  /** Order-stream reads made through the app since the last `given` (or `resetReads`). */
  streamReads(orderId: string): number;
  resetReads(): void;
  /** Appends events to an order's stream, as if earlier commands had; returns the stream revision. */
  given(orderId: string, ...events: OrderEvent[]): Promise<bigint>;
  /** The order's events appended since the last `given`. */
  newEvents(orderId: string): Promise<OrderEvent[]>;
  token(user: { id: string; role?: Role }): string;
  stop(): Promise<void>;
}

/** An EventStore that counts stream reads per stream and delegates everything else. */
function countingStore(inner: EventStore, reads: Map<string, number>): EventStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'readStream') {
        return (streamId: string, options?: { fromRevision?: bigint; maxCount?: number }): Promise<RecordedEvent[]> => {
          reads.set(streamId, (reads.get(streamId) ?? 0) + 1);
          return target.readStream(streamId, options);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export async function startCommandApp(overrides: Record<string, string> = {}): Promise<CommandApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    // Nothing here may reach PostgreSQL: a route that does fails at once (port 1 refuses connections).
    DATABASE_URL: 'postgres://postgres@127.0.0.1:1/no_database',
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: '6379',
    REDIS_KEY_PREFIX: `ol-test:${randomBytes(6).toString('hex')}:`,
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_MAX: '100000',
    ...overrides,
  });
  const logger = createLogger('silent');
  const store = new InMemoryEventStore();
  const reads = new Map<string, number>();
  const knex = createKnex({ connectionString: config.DATABASE_URL, poolMax: 1, statementTimeoutMs: 1000 });
  const redis = createRedis(config);
  const tokens = createTokenService(config.jwtSecret, config.JWT_EXPIRES_IN_SECONDS);
  const auth = new AuthState({ knex, connectionString: config.DATABASE_URL, ttlMs: config.AUTH_STATE_TTL_MS, logger });
  const counted = countingStore(store, reads);
  const clock = (): Date => new Date();
  const dataKeys = new InMemoryDataKeyStore();
  const deps: Deps = {
    config,
    logger,
    knex,
    store: counted,
    redis,
    tokens,
    auth,
    authenticator: claimsOnlyAuthenticator(tokens),
    waiter: new ProjectionWaiter(knex, config.DATABASE_URL, [], logger),
    orderReads: {
      waitFor: async () => undefined,
      fromEvents: (events) => orderFromEvents(events, dataKeys),
    },
    dataKeys,
    payments: { store: counted, providers: new PaymentProviders(config), logger, clock },
    clock,
  };
  const app = createApp(deps, withPaymentRoutes(deps)).app;
  const marks = new Map<string, number>();

  return {
    request: supertest.agent(app),
    config,
    deps,
    store,
    streamReads: (orderId) => reads.get(orderStreamId(orderId)) ?? 0,
    resetReads: () => reads.clear(),
    async given(orderId, ...events) {
      const context: EncodeContext = { actor: { type: 'system', id: 'given' } };
      const encoded = events.map((event) => encodeOrderEvent(event, randomUUID(), context));
      let revision = BigInt((await store.readStream(orderStreamId(orderId))).length) - 1n;
      if (encoded.length > 0) revision = (await store.appendToStream(orderStreamId(orderId), encoded, { expectedRevision: 'any' })).nextRevision;
      marks.set(orderId, Number(revision) + 1);
      reads.clear();
      return revision;
    },
    async newEvents(orderId) {
      const from = marks.get(orderId) ?? 0;
      return (await loadOrder(store, orderId)).events.slice(from).map((stored) => stored.event);
    },
    token: (user) => tokens.sign({ id: user.id, email: `${user.id.slice(0, 8)}@example.test`, role: user.role ?? 'user', tokenVersion: 0 }).token,
    async stop() {
      await auth.close();
      await store.close();
      await knex.destroy();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

import { PostgresDataKeyStore } from './privacy/dataKeyStore';
import { localKeyWrapper } from './privacy/masterKey';
import type { Express } from 'express';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { readModelProjections } from '../projections/readModels';
import { Projector } from '../projections/projector';
import { Notifier, NOTIFIER_CHECKPOINT } from '../projections/notifier';
import { createEmailBatches, processEmailJob } from '../projections/notifications/emailJob';
import { isEmailKind } from '../projections/notifications/emailTemplates';
import { ConsistencyTimeoutError, ProjectionWaiter } from '../queries/consistency';
import { readModelOrderReads } from '../queries/orderAfterCommand';
import { AuthState } from './auth/authState';
import { claimsOnlyAuthenticator, createAuthenticator } from './auth/authenticator';
import type { Config } from './config/config';
import type { Deps } from './deps';
import { createKnex, ensureDatabase } from './db/knex';
import { migrateToLatest, pendingMigrations } from './db/migrations';
import { openEventStore } from './eventstore/createEventStore';
import { createApp, type AppHooks } from './http/app';
import { errorBody } from './http/errorHandler';
import { createTokenService } from './http/authTokens';
import { createLogger, type Logger } from './logger';
import { createRedis } from './redis';
import { withTimeout } from './withTimeout';
import { createEmailQueue } from './queue/emailQueue';
import { EmailReconciler } from './queue/emailOutbox';
import { startEmailWorker } from './queue/emailWorker';
import { createSocketPublisher } from './socket/socketPublisher';
import { createSocketServer } from './socket/socketServer';
import { PaymentProviders } from './payments/paymentProviders';
import { RefundReactor, REFUND_REACTOR_NAME } from '../projections/refundReactor';
import { EXPIRY_REACTOR_NAME, OrderExpiryReactor } from '../projections/expiryReactor';
import { Metrics } from './metrics/metrics';
import { instrumentEventStore } from './metrics/instrumentEventStore';
import { instrumentWaiter } from './metrics/instrumentWaiter';
import { observeEmailWorker } from './metrics/emailMetrics';
import { registerRuntimeCollectors, type ObservedRuntime } from './metrics/runtimeCollectors';
import { startOpsServer, type OpsServer } from './ops/opsServer';
import { readiness } from './ops/readiness';
import { queueDashboard } from './http/queueDashboard';
import { withPaymentRoutes } from './http/routes/paymentRoutes';
import type { EventTracing } from './tracing/eventTracing';
import { traceEventStore } from './tracing/traceEventStore';

export { readModelProjections };

/** A part of the process that starts after the dependencies exist and stops before they close. */
export interface Component {
  name: string;
  stop(): Promise<void>;
}

export interface Runtime {
  config: Config;
  deps: Deps;
  /** Base URL of the HTTP server when the api role runs. */
  url: string | undefined;
  server: http.Server | undefined;
  /** The Express app when the api role runs (Socket.io wraps the server's request listener, so tests read it here). */
  app: Express | undefined;
  /** Base URL of the operations server (/health, /ready, /metrics) when this process runs one. */
  opsUrl: string | undefined;
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  appHooks?: AppHooks;
  /**
   * Benchmark reference only: act on a valid token's claims without checking the account, as the
   * API did before revocation existed. Not reachable through configuration.
   */
  trustTokenClaims?: boolean;
  /**
   * Trace hooks of the OpenTelemetry SDK the entry point started (startTracing) before requiring
   * this module; absent, tracing is off and no span is made.
   */
  tracing?: EventTracing;
}

async function closeServer(server: http.Server, graceMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Requests Node's HTTP parser refuses (a bad Content-Length, headers too large, invalid characters)
 * never reach Express: answer them with the same error envelope instead of Node's bare 400.
 */
function answerMalformedHttp(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify(errorBody(tooLarge ? 'HEADERS_TOO_LARGE' : 'MALFORMED_REQUEST', tooLarge ? 'Request headers are too large' : 'The request is not valid HTTP'));
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The composition root: builds every dependency once and starts the roles this process runs. */
export async function startRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  if (config.MIGRATE_ON_START) await ensureDatabase(config.DATABASE_URL);
  const knex = createKnex({
    connectionString: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
  });
  if (config.MIGRATE_ON_START) {
    const applied = await migrateToLatest(knex);
    if (applied.length > 0) logger.info({ migrations: applied }, 'applied migrations');
  } else {
    // Production may migrate as its own step; a process built for a newer schema must not serve the old one.
    const pending = await pendingMigrations(knex).catch(async (error: unknown) => {
      await knex.destroy();
      throw error;
    });
    if (pending.length > 0) {
      await knex.destroy();
      throw new Error(`${pending.length} migration(s) pending (${pending.join(', ')}); run \`order-ledger migrate\` first, or set MIGRATE_ON_START=true`);
    }
  }

  const metrics = new Metrics({ logger: logger.child({ component: 'metrics' }) });
  const { tracing } = options;
  const opened = await openEventStore(config, logger).catch(async (error: unknown) => {
    await knex.destroy();
    throw error;
  });
  const store = instrumentEventStore(tracing ? traceEventStore(opened, tracing) : opened, metrics);
  const redis = createRedis(config);
  redis.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'));
  const waiter = instrumentWaiter(
    new ProjectionWaiter(
      knex,
      config.DATABASE_URL,
      readModelProjections.map((p) => p.name),
      logger,
    ),
    metrics,
    (error) => error instanceof ConsistencyTimeoutError,
  );
  await waiter.start();
  const auth = new AuthState({ knex, connectionString: config.DATABASE_URL, ttlMs: config.AUTH_STATE_TTL_MS, logger: logger.child({ component: 'auth' }) });
  await auth.start();
  const tokens = createTokenService(config.jwtSecret, config.JWT_EXPIRES_IN_SECONDS);
  const dataKeys = new PostgresDataKeyStore(
    knex,
    localKeyWrapper(config, (message) => logger.warn(message)),
  );

  const deps: Deps = {
    config,
    logger,
    knex,
    store,
    redis,
    tokens,
    auth,
    authenticator: options.trustTokenClaims ? claimsOnlyAuthenticator(tokens) : createAuthenticator(tokens, auth),
    waiter,
    orderReads: readModelOrderReads(waiter, dataKeys),
    dataKeys,
    clock: () => new Date(),
    metrics,
  };
  const components: Component[] = [];
  // What this process's roles let /metrics report (issue 14): their subscribers' lag, the email queue.
  const observed: ObservedRuntime = { subscribers: [], running: [] };

  if (config.ROLES.includes('projector')) {
    const projector = new Projector({
      store,
      knex,
      projections: readModelProjections,
      logger: logger.child({ role: 'projector' }),
      connectionString: config.DATABASE_URL,
      batchSize: config.PROJECTOR_BATCH_SIZE,
      tracing,
      onProjected: (position) => waiter.projected(position),
    });
    projector.start();
    deps.projector = projector;
    observed.subscribers.push({ name: 'projector', checkpoints: readModelProjections.map((p) => p.name) });
    observed.running.push({ name: 'projector', state: () => projector.status });
    components.push({ name: 'projector', stop: () => projector.stop() });
  }

  // --- realtime and email (issue 5): notifier and email worker roles ---
  if (config.ROLES.includes('notifier')) {
    const publisher = createSocketPublisher(config, logger);
    const emails = createEmailQueue(config, logger);
    const notifier = new Notifier({
      store,
      knex,
      logger: logger.child({ role: 'notifier' }),
      connectionString: config.DATABASE_URL,
      publisher,
      emails,
      tracing,
    });
    notifier.start();
    deps.notifier = notifier;
    observed.subscribers.push({ name: 'notifier', checkpoints: [NOTIFIER_CHECKPOINT] });
    observed.running.push({ name: 'notifier', state: () => notifier.status });
    components.push({
      name: 'notifier',
      stop: async () => {
        await notifier.stop();
        await Promise.all([publisher.close(), emails.close()]);
      },
    });
  }
  if (config.ROLES.includes('worker')) {
    // The worker queues again the emails that failed in a batch job; the reconciler, every email the
    // outbox still owes whose job Redis no longer holds. Closed last (components stop in reverse).
    const outboxQueue = createEmailQueue(config, logger);
    components.push({ name: 'email-queue', stop: () => outboxQueue.close() });
    const batches = createEmailBatches({ knex, store, dataKeys });
    const emailWorker = startEmailWorker({
      config,
      logger,
      process: (data, mailer, workerLogger) => processEmailJob({ knex, store, mailer, logger: workerLogger, dataKeys, batches }, data),
      requeue: (failed) => outboxQueue.requeue(failed),
      tracing,
    });
    observeEmailWorker(emailWorker.worker, metrics);
    components.push({ name: 'email-worker', stop: () => emailWorker.stop() });
    const reconciler = new EmailReconciler({
      knex,
      emails: outboxQueue,
      logger: logger.child({ role: 'email-reconciler' }),
      intervalMs: config.EMAIL_RECONCILE_INTERVAL_MS,
      knownKinds: isEmailKind,
    });
    reconciler.start();
    observed.queue = outboxQueue.queue;
    components.push({ name: 'email-reconciler', stop: () => reconciler.stop() });
  }
  // --- end realtime and email ---

  // --- payments (issue 4): providers, webhook and payment routes, refund reactor (worker role) ---
  if (config.ROLES.includes('api') || config.ROLES.includes('worker')) {
    const payments = { store, providers: new PaymentProviders(config), logger: logger.child({ component: 'payments' }), clock: deps.clock };
    deps.payments = payments;
    options = { ...options, appHooks: withPaymentRoutes(deps, options.appHooks) };
    if (config.ROLES.includes('worker')) {
      const refunds = new RefundReactor({
        store,
        knex,
        payments,
        logger: logger.child({ role: 'refund-reactor' }),
        connectionString: config.DATABASE_URL,
        retryMs: config.PAYMENT_REFUND_RETRY_MS,
        tracing,
      });
      refunds.start();
      observed.subscribers.push({ name: 'refund-reactor', checkpoints: [REFUND_REACTOR_NAME] });
      observed.running.push({ name: 'refund-reactor', state: () => refunds.state });
      components.push({ name: 'refund-reactor', stop: () => refunds.stop() });
      const expiry = new OrderExpiryReactor({
        store,
        knex,
        payments,
        logger: logger.child({ role: 'order-expiry' }),
        connectionString: config.DATABASE_URL,
        ttlMs: config.ORDER_PAYMENT_TTL,
        checkMs: config.ORDER_EXPIRY_CHECK_MS,
        clock: deps.clock,
      });
      expiry.start();
      observed.subscribers.push({ name: 'order-expiry', checkpoints: [EXPIRY_REACTOR_NAME] });
      observed.running.push({ name: 'order-expiry', state: () => expiry.state });
      components.push({ name: 'order-expiry', stop: () => expiry.stop() });
    }
  }
  // --- end payments ---

  let server: http.Server | undefined;
  let app: Express | undefined;
  let url: string | undefined;
  if (config.ROLES.includes('api')) {
    // Issue 14: bull-board for admins at /admin/queues.
    const dashboard = queueDashboard(deps, options.appHooks);
    components.push({ name: 'queue-dashboard', stop: () => dashboard.close() });
    app = createApp(deps, dashboard.hooks).app;
    server = http.createServer(app);
    deps.sockets = createSocketServer(server, deps); // realtime (issue 5)
    await socketsReading(deps.sockets.reading, logger);
    server.on('clientError', answerMalformedHttp);
    server.requestTimeout = 30_000;
    server.headersTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(config.PORT, config.HOST, () => resolve());
    });
    const address = listening.address() as AddressInfo;
    url = `http://${address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address}:${address.port}`;
    logger.info({ url, roles: config.ROLES, eventStore: store.kind }, 'order-ledger listening');
  }

  // Operations (issue 14): a process without the api role serves the probes and /metrics on
  // OPS_PORT, or on PORT when unset (nothing else listens there); the API does so on OPS_PORT only when set.
  const sockets = deps.sockets;
  registerRuntimeCollectors(metrics, { knex, store, observed, ...(sockets ? { sockets: () => sockets.io.engine.clientsCount } : {}) });

  let ops: OpsServer | undefined;
  let stopping: Promise<void> | undefined;
  // Each shutdown step is bounded: an unreachable Redis or database must not hold the process.
  const step = async (name: string, run: () => Promise<unknown>, ms = 10_000): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        run(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms);
        }),
      ]);
    } catch (error) {
      logger.warn({ err: (error as Error).message, step: name }, 'shutdown step failed; continuing');
    } finally {
      clearTimeout(timer);
    }
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // realtime (issue 5): before the HTTP server, which waits for its connections
      await step('sockets', async () => deps.sockets?.close(), 3000);
      if (server) await step('http', () => closeServer(server, 10_000), 11_000);
      if (ops) await step('ops', () => ops!.close(), 3000);
      for (const component of [...components].reverse()) await step(component.name, () => component.stop());
      await step('waiter', () => waiter.close(), 3000);
      await step('auth listener', () => auth.close(), 3000);
      await step('event store', () => store.close(), 5000);
      await step('redis', () => redis.quit(), 1000);
      redis.disconnect();
      await step('database', () => knex.destroy(), 5000);
    })();
    return stopping;
  };

  const opsPort = config.OPS_PORT ?? (config.ROLES.includes('api') ? undefined : config.PORT);
  if (opsPort !== undefined) {
    ops = await startOpsServer({
      port: opsPort,
      host: config.OPS_HOST ?? config.HOST,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      readiness: () => readiness(deps),
      logger,
    }).catch(async (error: unknown) => {
      await stop();
      throw error;
    });
    logger.info({ url: ops.url }, 'operations server listening');
  }

  return { config, deps, url, server, app, opsUrl: ops?.url, stop };
}

/** Bounds the wait for the socket stream reader before listening: with Redis down the API still serves. */
const SOCKET_READER_START_MS = 2000;

/**
 * A client that connects as soon as the port opens must not miss the pushes that follow, so the
 * API listens once broadcasts reach it, or after a bounded wait (Redis not answering) with a warning.
 */
async function socketsReading(reading: Promise<void>, logger: Logger): Promise<void> {
  await withTimeout(reading, SOCKET_READER_START_MS, 'the socket stream reader').catch(() =>
    logger.warn({ waitedMs: SOCKET_READER_START_MS }, 'socket pushes from other processes reach this instance once Redis answers'),
  );
}

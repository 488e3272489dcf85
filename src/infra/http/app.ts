import './openapi';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import swaggerUi from 'swagger-ui-express';
import type { Deps } from '../deps';
import { errorHandler, notFoundHandler } from './errorHandler';
import { createRegistry, generateOpenApiDocument } from './openapi';
import { globalRateLimit } from './rateLimit';
import { registerAnnouncementRoutes } from './routes/announcementRoutes';
import { registerAuthRoutes } from './routes/authRoutes';
import { registerChatbotRoutes } from './routes/chatbotRoutes';
import { registerHealthRoutes } from './routes/healthRoutes';
import { registerOrderRoutes } from './routes/orderRoutes';
import { registerPaymentMethodRoutes } from './routes/paymentMethodRoutes';
import { registerPrivacyRoutes } from './routes/privacyRoutes';
import { registerProductRoutes } from './routes/productRoutes';
import { registerSessionRoutes } from './routes/sessionRoutes';
import { registerTimelineRoutes } from './routes/timelineRoutes';
import type { RouteDeps } from './route';
import { locateWebFront, serveWebFront } from './webFront';
import { httpMetrics } from '../metrics/httpMetrics';
import { registerMetricsRoute } from '../metrics/metricsRoute';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface AppHooks {
  /** Routes that must see the raw body (signed webhooks) mount here, before the JSON parser. */
  beforeJson?: (app: Express) => void;
  /** Extra route groups registered with the same router and OpenAPI registry. */
  routes?: Array<(routes: RouteDeps, deps: Deps) => void>;
}

export function createApp(deps: Deps, hooks: AppHooks = {}): { app: Express; openApiDocument: ReturnType<typeof generateOpenApiDocument> } {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  app.set('query parser', 'simple');
  const front = locateWebFront();
  // First, so the time of every later middleware (rate limit, auth, parsing) is in the request's duration.
  if (deps.metrics) app.use(httpMetrics(deps.metrics, { mounts: ['/api-docs', '/admin/queues'], ...(front ? { staticPaths: front.paths } : {}) }));

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(helmet());
  const origins = config.CORS_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  app.use(
    cors({
      origin: (origin, callback) => callback(null, origin !== undefined && origins.includes(origin)),
      allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'X-Min-Position', 'X-Request-Id'],
      exposedHeaders: ['ETag', 'X-Request-Id', 'X-Consistency', 'RateLimit', 'RateLimit-Policy', 'Retry-After'],
      maxAge: 600,
    }),
  );

  hooks.beforeJson?.(app);
  if (!front) logger.warn('web front not built (run `npm run build`); serving the API only');
  // After beforeJson: provider webhooks arrive in bursts from few addresses and are verified by signature.
  app.use(globalRateLimit(deps, front?.paths));
  if (front) serveWebFront(app, front);
  app.use(express.json({ limit: config.JSON_BODY_LIMIT }));

  const router = express.Router();
  const registry = createRegistry();
  const routes: RouteDeps = { router, registry, tokens: deps.tokens, authenticator: deps.authenticator };
  registerHealthRoutes(routes, deps);
  // With OPS_PORT set, /metrics lives on the operations port only, off the public one.
  if (deps.metrics && config.OPS_PORT === undefined) registerMetricsRoute(routes, deps.metrics, config.METRICS_TOKEN, logger);
  registerAuthRoutes(routes, deps);
  registerSessionRoutes(routes, deps);
  registerProductRoutes(routes, deps);
  registerOrderRoutes(routes, deps);
  registerTimelineRoutes(routes, deps);
  registerPaymentMethodRoutes(routes, deps);
  registerChatbotRoutes(routes, deps);
  registerAnnouncementRoutes(routes, deps);
  registerPrivacyRoutes(routes, deps);
  for (const register of hooks.routes ?? []) register(routes, deps);

  const openApiDocument = generateOpenApiDocument(registry);
  app.get('/api-docs.json', (_req, res) => {
    res.json(openApiDocument);
  });
  // Swagger UI needs inline scripts and styles that the default CSP blocks.
  app.use(
    '/api-docs',
    helmet.contentSecurityPolicy({ directives: { 'script-src': ["'self'", "'unsafe-inline'"], 'style-src': ["'self'", "'unsafe-inline'"] } }),
    swaggerUi.serve,
    swaggerUi.setup(openApiDocument, { swaggerOptions: { persistAuthorization: true } }),
  );
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return { app, openApiDocument };
}

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import helmet from 'helmet';
import jwt from 'jsonwebtoken';
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import './openapi';
import { AppError } from '../../errors';
import { checkAccount } from '../auth/authenticator';
import type { Config } from '../config/config';
import type { Deps } from '../deps';
import { bullPrefix, EMAIL_QUEUE } from '../queue/emailQueue';
import { createRedis } from '../redis';
import type { AppHooks } from './app';
import { bearerToken, ForbiddenError, UnauthorizedError } from './authTokens';
import { QUEUE_DASHBOARD_PATH } from './queueDashboardPath';
import { createLimiter } from './rateLimit';
import { defineRoute, type RouteDefinition, type RouteDeps } from './route';

export const DASHBOARD_COOKIE = 'ol_queue_dashboard';
/** A dashboard session lasts this long after its last renewal, and never longer than the token that opened it. */
const SESSION_SECONDS = 15 * 60;
const AUDIENCE = 'order-ledger:queue-dashboard';

const claimsSchema = z.object({
  sub: z.uuid(),
  /** The bearer token that opened the session: its logout ends the session too. */
  jti: z.string().min(1),
  /** The account's token version then: "revoke all", disabling or deleting the account ends it. */
  ver: z.number().int().min(0),
  /** That token's expiry (seconds): renewals never outlive it. */
  tex: z.number().int(),
  iat: z.number().int(),
  exp: z.number().int(),
});
type SessionClaims = z.infer<typeof claimsSchema>;

/**
 * The cookie is signed with a key derived from JWT_SECRET for this purpose alone, so a dashboard
 * cookie is never accepted as a bearer token, nor a bearer token as a cookie.
 */
export function dashboardKey(jwtSecret: string): KeyObject {
  return createSecretKey(createHmac('sha256', jwtSecret).update('order-ledger queue dashboard session v1').digest());
}

function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function verifySession(req: Request, key: KeyObject): SessionClaims | undefined {
  const value = readCookie(req, DASHBOARD_COOKIE);
  if (!value) return undefined;
  try {
    const parsed = claimsSchema.safeParse(jwt.verify(value, key, { algorithms: ['HS256'], audience: AUDIENCE }));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function setSessionCookie(req: Request, res: Response, key: KeyObject, claims: Omit<SessionClaims, 'iat' | 'exp'>): string {
  const now = Math.floor(Date.now() / 1000);
  const exp = Math.min(now + SESSION_SECONDS, claims.tex);
  const value = jwt.sign({ ...claims, iat: now, exp }, key, { algorithm: 'HS256', audience: AUDIENCE });
  const attributes = [`Path=${QUEUE_DASHBOARD_PATH}`, `Max-Age=${Math.max(0, exp - now)}`, 'HttpOnly', 'SameSite=Strict', ...(req.secure ? ['Secure'] : [])];
  res.append('Set-Cookie', `${DASHBOARD_COOKIE}=${value}; ${attributes.join('; ')}`);
  return new Date(exp * 1000).toISOString();
}

class CrossSiteRequestError extends AppError {
  constructor() {
    super('forbidden', 'CROSS_SITE_REQUEST', 'The queue dashboard accepts changes from its own pages only');
  }
}

/**
 * Every dashboard request: a valid session cookie, for an account that is still an admin now (the
 * auth cache, kept fresh by the database's notifications), with the opening token not revoked.
 * Anonymous → 401, a signed-in non-admin → 403.
 */
function requireAdminSession(deps: Deps, key: KeyObject): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const claims = verifySession(req, key);
    if (!claims) {
      next(
        new UnauthorizedError(
          `The queue dashboard needs a session: open it from the web front (signed in as an admin), or POST ${QUEUE_DASHBOARD_PATH}/session with an admin bearer token`,
        ),
      );
      return;
    }
    deps.auth
      .get(claims.sub)
      .then((account) => {
        const user = checkAccount(account, { tokenId: claims.jti, version: claims.ver });
        if (user.role !== 'admin') throw new ForbiddenError('Admin role required');
        // SameSite=Strict keeps the cookie off cross-site requests; refuse any that says it is one all the same.
        const site = req.headers['sec-fetch-site'];
        if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && site !== undefined && site !== 'same-origin') throw new CrossSiteRequestError();
        const now = Math.floor(Date.now() / 1000);
        if (now - claims.iat > SESSION_SECONDS / 2 && claims.tex > now) setSessionCookie(req, res, key, { sub: claims.sub, jti: claims.jti, ver: claims.ver, tex: claims.tex });
        (req as Request & { dashboardUserId?: string }).dashboardUserId = user.id;
        next();
      })
      .catch(next);
  };
}

/**
 * The board's page loads its scripts and stylesheet from this path; it styles elements inline
 * (style-src 'unsafe-inline', only here) and sets a <base>. Its web font from a third-party CDN is
 * blocked on purpose: the system font is used instead.
 */
const dashboardCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  },
});

type SessionHandler = RouteDefinition<z.ZodUndefined, z.ZodUndefined, z.ZodUndefined>['handler'];

/** POST /admin/queues/session, defined once for the running app and for the documentation build. */
function sessionRoute(before: RequestHandler[], handler: SessionHandler): RouteDefinition<z.ZodUndefined, z.ZodUndefined, z.ZodUndefined> {
  return {
    method: 'post',
    path: `${QUEUE_DASHBOARD_PATH}/session`,
    summary: 'Open the queue dashboard: sets its session cookie (admin)',
    tags: ['Operations'],
    access: 'admin',
    example: {},
    responses: {
      200: {
        description: `Session cookie ${DASHBOARD_COOKIE} set (HttpOnly, SameSite=Strict, Path=${QUEUE_DASHBOARD_PATH}, 15 minutes renewed while in use, never past the token's expiry); navigate to data.url`,
        schema: z.object({ status: z.literal('success'), data: z.object({ url: z.string(), expiresAt: z.string() }) }),
      },
    },
    before,
    handler,
  };
}

/** The dashboard's documented route without a queue or Redis: for building the OpenAPI document offline. */
export function documentQueueDashboard(hooks: AppHooks = {}): AppHooks {
  const register = (routes: RouteDeps): void =>
    defineRoute(
      routes,
      sessionRoute([], () => Promise.reject(new Error('the documentation build serves no requests'))),
    );
  return { ...hooks, routes: [...(hooks.routes ?? []), register] };
}

export interface QueueDashboard {
  hooks: AppHooks;
  close(): Promise<void>;
}

/**
 * bull-board at /admin/queues for admins, on the email queue. Browsers cannot send a bearer header
 * when they navigate, so an admin first calls POST /admin/queues/session with their bearer token
 * (the web front's "Email queue" link does): it answers with a short-lived HttpOnly, SameSite=Strict
 * cookie scoped to this path, checked against the account on every request.
 */
export function queueDashboard(deps: Deps, hooks: AppHooks = {}): QueueDashboard {
  const { config } = deps;
  const key = dashboardKey(config.jwtSecret);
  const { queue, close } = dashboardQueue(config);
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  // Completed jobs have nothing to redo (the outbox has them as sent); failed ones are what an admin retries.
  // (The adapter passes this option on to its base class; its own constructor type omits it.)
  const adapterOptions: ConstructorParameters<typeof BullMQAdapter>[1] & { allowCompletedRetries: boolean } = {
    allowCompletedRetries: false,
    description: 'Emails derived from order events (job id = event id)',
  };
  createBullBoard({
    queues: [new BullMQAdapter(queue, adapterOptions)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'order-ledger queues', hideDocsLink: true, hideRedisDetails: true } },
  });
  const limiter = createLimiter(deps, {
    name: 'queue-dashboard',
    limit: config.QUEUE_DASHBOARD_RATE_LIMIT_MAX,
    code: 'RATE_LIMITED',
    message: 'Too many requests to the queue dashboard; retry later',
    // The board polls every few seconds: its own budget per admin, so a tab left open spends none of the API's.
    keyGenerator: (req) => {
      const claims = verifySession(req, key);
      return claims ? `user:${claims.sub}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
  });

  const register = (routes: RouteDeps): void => {
    defineRoute(
      routes,
      sessionRoute([limiter], async ({ req, res }) => {
        const principal = await deps.authenticator.authenticate(bearerToken(req.headers.authorization)!);
        const expiresAt = setSessionCookie(req, res, key, { sub: principal.id, jti: principal.tokenId, ver: principal.tokenVersion, tex: principal.expiresAt });
        res.setHeader('Cache-Control', 'no-store');
        return { status: 200, body: { status: 'success', data: { url: `${QUEUE_DASHBOARD_PATH}/`, expiresAt } } };
      }),
    );
    routes.router.use(QUEUE_DASHBOARD_PATH, limiter, requireAdminSession(deps, key), dashboardCsp, serverAdapter.getRouter() as RequestHandler);
  };

  return {
    hooks: { ...hooks, routes: [...(hooks.routes ?? []), register] },
    close,
  };
}

/** The dashboard's own connection: its calls fail after a couple of reconnection attempts instead of queueing while Redis is away. */
function dashboardQueue(config: Config): { queue: Queue; close: () => Promise<void> } {
  const connection = createRedis(config, { maxRetriesPerRequest: 2 });
  connection.on('error', () => undefined);
  const queue = new Queue(EMAIL_QUEUE, { connection, prefix: bullPrefix(config) });
  queue.on('error', () => undefined);
  return {
    queue,
    async close() {
      await queue.close().catch(() => undefined);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

import type { OpenAPIRegistry, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { NextFunction, Request, Response, Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors';
import type { Authenticator } from '../auth/authenticator';
import { bearerToken, ForbiddenError, UnauthorizedError, type AuthUser, type TokenService } from './authTokens';
import { errorResponseSchema } from './openapi';

export type Access = 'public' | 'optional' | 'user' | 'admin';

type Schema = z.ZodType;

export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Set for every access level except 'public' ('optional' may leave it undefined). */
  user: AuthUser | undefined;
  req: Request;
  res: Response;
  requestId: string;
}

export interface RouteDefinition<B extends Schema, Q extends Schema, P extends Schema> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express syntax (`/orders/:id`); the OpenAPI path is derived from it. */
  path: string;
  summary: string;
  tags: string[];
  access: Access;
  body?: B;
  query?: Q;
  params?: P;
  /** Documented request headers (validated by the handler). */
  headers?: z.ZodObject;
  /** `example`: what the answer looks like (documented next to the schema, so error schemas stay the one envelope). */
  responses: Record<number, { description: string; schema?: Schema; headers?: z.ZodObject; example?: unknown }>;
  /** Extra middleware run before parsing (rate limits). */
  before?: Array<(req: Request, res: Response, next: NextFunction) => void>;
  handler(ctx: RouteContext<z.infer<B>, z.infer<Q>, z.infer<P>>): Promise<RouteResult>;
}

function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parseOrThrow<S extends Schema>(schema: S | undefined, value: unknown, where: string): z.infer<S> {
  if (!schema) return undefined as z.infer<S>;
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new ValidationError(
      `Invalid ${where}: ${result.error.issues.map((i) => `${i.path.join('.') || where} ${i.message}`).join('; ')}`,
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })),
    );
  }
  return result.data;
}

export interface RouteDeps {
  router: Router;
  registry: OpenAPIRegistry;
  tokens: TokenService;
  authenticator: Authenticator;
}

/** The caller as the account is now: a deleted, disabled or revoked one gets 401, a demoted admin 403 on admin routes. */
export async function authenticate(req: Request, authenticator: Authenticator, access: Access): Promise<AuthUser | undefined> {
  if (access === 'public') return undefined;
  const token = bearerToken(req.headers.authorization);
  if (!token) {
    if (access === 'optional') return undefined;
    throw new UnauthorizedError();
  }
  const user = await authenticator.authenticate(token);
  if (access === 'admin' && user.role !== 'admin') throw new ForbiddenError('Admin role required');
  return { id: user.id, email: user.email, role: user.role };
}

/**
 * Registers one route on the router and in the OpenAPI registry from the same zod schemas,
 * so the document cannot drift from what the handler accepts.
 */
export function defineRoute<B extends Schema = z.ZodUndefined, Q extends Schema = z.ZodUndefined, P extends Schema = z.ZodUndefined>(
  deps: RouteDeps,
  def: RouteDefinition<B, Q, P>,
): void {
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(def.responses)) {
    // Error responses always carry the error envelope, whether or not the route names a schema.
    const schema = response.schema ?? (Number(status) >= 400 ? errorResponseSchema : undefined);
    responses[status] = {
      description: response.description,
      ...(schema ? { content: { 'application/json': { schema, ...(response.example === undefined ? {} : { example: response.example }) } } } : {}),
      ...(response.headers ? { headers: response.headers } : {}),
    };
  }
  const errorStatuses = [400, 500];
  if (def.access !== 'public') errorStatuses.push(401);
  if (def.access === 'admin') errorStatuses.push(403);
  for (const status of errorStatuses) {
    responses[status] ??= { description: 'Error', content: { 'application/json': { schema: errorResponseSchema } } };
  }
  deps.registry.registerPath({
    method: def.method,
    path: toOpenApiPath(def.path),
    summary: def.summary,
    tags: def.tags,
    // Bearer security cannot tell a user route from an admin one; generated docs (the README's API table) read this.
    'x-access': def.access,
    ...(def.access === 'public' ? {} : { security: def.access === 'optional' ? [{ bearerAuth: [] }, {}] : [{ bearerAuth: [] }] }),
    request: {
      // A missing body parses as {}, so a body whose fields are all optional is documented as optional.
      ...(def.body ? { body: { required: !def.body.safeParse({}).success, content: { 'application/json': { schema: def.body } } } } : {}),
      ...(def.query ? { query: def.query as unknown as z.ZodObject } : {}),
      ...(def.params ? { params: def.params as unknown as z.ZodObject } : {}),
      ...(def.headers ? { headers: def.headers } : {}),
    },
    responses,
  });

  const handler = async (req: Request, res: Response): Promise<void> => {
    const user = await authenticate(req, deps.authenticator, def.access);
    const ctx: RouteContext<z.infer<B>, z.infer<Q>, z.infer<P>> = {
      body: parseOrThrow(def.body, req.body, 'body'),
      query: parseOrThrow(def.query, req.query, 'query'),
      params: parseOrThrow(def.params, req.params, 'path parameters'),
      user,
      req,
      res,
      requestId: String(req.id ?? ''),
    };
    const result = await def.handler(ctx);
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    res.status(result.status).json(result.body);
  };
  deps.router[def.method](def.path, ...(def.before ?? []), handler);
}

import type { OpenAPIRegistry, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { NextFunction, Request, Response, Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors';
import type { Authenticator } from '../auth/authenticator';
import { bearerToken, ForbiddenError, UnauthorizedError, type AuthUser, type TokenService } from './authTokens';
import { defaultCaller, errorExampleBody, EXAMPLES_EXTENSION, type ErrorExample, type ExampleRequest, type OperationExamples } from './examples';
import { errorResponseSchema } from './openapi';

export type Access = 'public' | 'optional' | 'user' | 'admin';

type Schema = z.ZodType;

export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Answer with a redirect to this URL (status 3xx) instead of JSON. */
  redirect?: string;
  /** Answer with this HTML page instead of JSON (routes a browser lands on). */
  html?: string;
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
  /**
   * Success (2xx) and error statuses. An error status names a `code` the route really answers with
   * (its example in the document) and, where one can, the `request` that gets it on a fresh server
   * with demo data (the examples test sends it).
   */
  responses: Record<number, RouteResponse>;
  /** A realistic request that succeeds on a fresh server with demo data; placeholders from `examples.ts`. */
  example: ExampleRequest;
  /** Extra middleware run before parsing (rate limits). */
  before?: Array<(req: Request, res: Response, next: NextFunction) => void>;
  handler(ctx: RouteContext<z.infer<B>, z.infer<Q>, z.infer<P>>): Promise<RouteResult>;
}

export interface RouteResponse {
  description: string;
  schema?: Schema;
  headers?: z.ZodObject;
  /** Error statuses: the code of the example error (the description is its message unless `message` is given). */
  code?: string;
  message?: string;
  request?: ExampleRequest;
}

/** The statuses every route may answer without naming them, with what they answer. */
function implicitErrors(def: RouteDefinition<Schema, Schema, Schema>): Record<number, RouteResponse> {
  const { access, example } = def;
  const errors: Record<number, RouteResponse> = { 500: { description: 'Internal server error', code: 'INTERNAL' } };
  // A route that takes nothing cannot answer 400; one with a path id refuses a malformed id, one with a body an empty body.
  if (def.body || def.query || def.params || def.headers) {
    const invalid: ExampleRequest | undefined = def.params
      ? { ...example, params: Object.fromEntries(Object.keys(example.params ?? {}).map((name) => [name, 'not-an-id'])) }
      : def.body && !def.body.safeParse({}).success
        ? { ...example, body: {} }
        : undefined;
    errors[400] = { description: 'Invalid request (details name each field)', code: 'VALIDATION_FAILED', ...(invalid ? { request: invalid } : {}) };
  }
  if (access === 'user' || access === 'admin') {
    errors[401] = { description: 'Authentication required', code: 'UNAUTHORIZED', request: { ...example, as: 'anonymous' } };
  }
  // An optional route answers anyone, but a token it is sent must be valid.
  if (access === 'optional') {
    errors[401] = {
      description: 'The bearer token is invalid, expired or revoked',
      code: 'INVALID_TOKEN',
      message: 'Invalid token',
      request: { ...example, as: 'anonymous', headers: { ...example.headers, authorization: 'Bearer not-a-valid-token' } },
    };
  }
  if (access === 'admin') errors[403] = { description: 'Admin role required', code: 'FORBIDDEN', request: { ...example, as: 'user' } };
  return errors;
}

/** The `x-examples` extension of one operation, from its request example and the error statuses it documents. */
export function operationExamples(access: Access, example: ExampleRequest, responses: Record<number, RouteResponse>): OperationExamples {
  const errors: Record<string, ErrorExample> = {};
  for (const [status, response] of Object.entries(responses)) {
    if (Number(status) < 400 || response.code === undefined) continue;
    errors[status] = { code: response.code, message: response.message ?? response.description, ...(response.request ? { request: response.request } : {}) };
  }
  return { request: { ...example, as: example.as ?? defaultCaller(access) }, errors };
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
  const documented: Record<number, RouteResponse> = { ...implicitErrors(def), ...def.responses };
  const examples = operationExamples(def.access, def.example, documented);
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(documented)) {
    // Error responses always carry the error envelope, whether or not the route names a schema.
    const schema = response.schema ?? (Number(status) >= 400 ? errorResponseSchema : undefined);
    const error = examples.errors[status];
    responses[status] = {
      description: response.description,
      ...(schema ? { content: { 'application/json': { schema, ...(error ? { example: errorExampleBody(error) } : {}) } } } : {}),
      ...(response.headers ? { headers: response.headers } : {}),
    };
  }
  deps.registry.registerPath({
    method: def.method,
    path: toOpenApiPath(def.path),
    summary: def.summary,
    tags: def.tags,
    // Bearer security cannot tell a user route from an admin one; generated docs (the README's API table) read this.
    'x-access': def.access,
    [EXAMPLES_EXTENSION]: examples,
    ...(def.access === 'public' ? {} : { security: def.access === 'optional' ? [{ bearerAuth: [] }, {}] : [{ bearerAuth: [] }] }),
    request: {
      // A missing body parses as {}, so a body whose fields are all optional is documented as optional.
      ...(def.body
        ? {
            body: {
              required: !def.body.safeParse({}).success,
              content: { 'application/json': { schema: def.body, ...(def.example.body !== undefined ? { example: def.example.body } : {}) } },
            },
          }
        : {}),
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
      // pino-http types the id as string | number | object; app.ts generates a string (a UUID or X-Request-Id).
      requestId: typeof req.id === 'string' ? req.id : '',
    };
    const result = await def.handler(ctx);
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    if (result.redirect !== undefined) res.redirect(result.status, result.redirect);
    else if (result.html !== undefined) res.status(result.status).type('html').send(result.html);
    else res.status(result.status).json(result.body);
  };
  deps.router[def.method](def.path, ...(def.before ?? []), handler);
}

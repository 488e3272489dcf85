import type { Request, RequestHandler, Response } from 'express';
import type { Metrics } from './metrics';

/** Route label of a request no route answered (404s, refusals before routing such as 429): one value, so stray URLs add no series. */
export const UNMATCHED_ROUTE = '(unmatched)';
/** Route label of the web front's files. */
export const WEB_FRONT_ROUTE = '(web front)';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface HttpMetricsOptions {
  /** Paths under which a sub-application answers (Swagger UI, the queue dashboard): labelled `<prefix>/*` unless a route of theirs matched. */
  mounts?: readonly string[];
  /** Exact paths of the web front's files. */
  staticPaths?: ReadonlySet<string>;
}

/**
 * The route template Express matched (`/orders/:id`), never the URL: ids in paths would make a
 * series per order. Read when the response finishes, after routing has set `req.route`.
 */
export function routeLabel(req: Request, path: string, options: HttpMetricsOptions): string {
  // Express types `req.route` as `any`; narrowed here before use.
  const route: unknown = req.route;
  if (typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  for (const mount of options.mounts ?? []) if (path === mount || path.startsWith(`${mount}/`)) return `${mount}/*`;
  if (options.staticPaths?.has(path)) return WEB_FRONT_ROUTE;
  return UNMATCHED_ROUTE;
}

/** Times every request from its arrival to the end of its response (or the client going away). */
export function httpMetrics(metrics: Metrics, options: HttpMetricsOptions = {}): RequestHandler {
  return (req: Request, res: Response, next) => {
    const started = process.hrtime.bigint();
    // Routers rewrite req.url inside mounts; the path as it arrived decides mounts and static files.
    const path = req.path;
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      // A client that went away before the answer was written is counted under status 0.
      const status = res.writableFinished ? String(res.statusCode) : '0';
      metrics.httpRequestDuration.observe({ method, route: routeLabel(req, path, options), status }, seconds);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

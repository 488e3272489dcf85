import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import type { Metrics } from './metrics';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether the request carries `Authorization: Bearer <METRICS_TOKEN>`. Both sides are hashed first,
 * so the comparison takes the same time whatever the length or content of the guess.
 */
export function hasMetricsToken(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null;
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/** GET /metrics for Express and for the operations server: 401 without the token when one is configured. */
export function metricsHandler(metrics: Metrics, token: string | undefined, logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (!hasMetricsToken(req, token)) {
      sendJson(
        res,
        401,
        { status: 'error', error: { code: 'UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' } },
        { 'WWW-Authenticate': 'Bearer realm="metrics"' },
      );
      return;
    }
    metrics
      .render()
      .then((text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'could not render /metrics');
        if (!res.headersSent) sendJson(res, 500, { status: 'error', error: { code: 'INTERNAL', message: 'Could not render the metrics' } });
        else res.destroy();
      });
  };
}

export { sendJson };

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics/metrics';
import { metricsHandler, sendJson } from '../metrics/metricsEndpoint';
import type { Readiness } from './readiness';

export interface OpsServerOptions {
  port: number;
  host: string;
  metrics: Metrics;
  /** METRICS_TOKEN: /metrics answers 401 without it. */
  metricsToken: string | undefined;
  readiness(): Promise<{ status: number; body: Readiness }>;
  logger: Logger;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

// Probes and scrapers hold a connection or two each; anything past this is not one of them.
const MAX_CONNECTIONS = 64;

/**
 * `/health`, `/ready` and `/metrics` on a port of their own, for processes without the api role
 * (projector, notifier, worker) and for an API that keeps its probes off the public port. Plain
 * node:http: three read-only routes need no framework, and nothing here is rate-limited, since
 * probes must never be throttled (the collectors' cache bounds what a scrape storm costs).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const started = Date.now();
  const serveMetrics = metricsHandler(options.metrics, options.metricsToken, options.logger);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/health' || path === '/ready' || path === '/metrics';
    if (!known) {
      sendJson(res, 404, { status: 'error', error: { code: 'ROUTE_NOT_FOUND', message: `No route for ${req.method ?? 'GET'} ${path ?? '/'}` } });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { status: 'error', error: { code: 'METHOD_NOT_ALLOWED', message: `${path} answers GET and HEAD only` } }, { Allow: 'GET, HEAD' });
      return;
    }
    if (path === '/metrics') {
      serveMetrics(req, res);
      return;
    }
    if (path === '/health') {
      sendJson(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) });
      return;
    }
    options
      .readiness()
      .then((answer) => sendJson(res, answer.status, answer.body))
      .catch((error: unknown) => {
        options.logger.error({ err: error }, 'readiness failed');
        sendJson(res, 503, { status: 'error', error: { code: 'NOT_READY', message: 'Readiness could not be determined' } });
      });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

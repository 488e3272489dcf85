// The HTTP ceiling for figure 4: Express 5 with the app's JSON body parser, one route answering a
// constant JSON body, in a child process started the same way as the app (node --import tsx).
// With BENCH_HTTP_METRICS=1 it also runs the app's HTTP metrics middleware (figure 9).
import express from 'express';
import http from 'node:http';
import { createLogger } from '../src/infra/logger';
import { httpMetrics } from '../src/infra/metrics/httpMetrics';
import { Metrics } from '../src/infra/metrics/metrics';

const body = { status: 'success', data: { ok: true, message: 'constant' } };

const app = express();
app.disable('x-powered-by');
app.set('query parser', 'simple');
if (process.env.BENCH_HTTP_METRICS === '1') app.use(httpMetrics(new Metrics({ logger: createLogger('silent') })));
app.use(express.json({ limit: '100kb' }));
app.get('/health', (_req, res) => {
  res.json({ status: 'ok' });
});
app.get('/constant', (_req, res) => {
  res.json(body);
});
app.post('/constant', (_req, res) => {
  res.status(201).json(body);
});

const server = http.createServer(app);
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
const shutdown = (): void => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAppFixture, bearer, type AppFixture, type BenchUser } from './lib/appFixture';
import type { ChildServer } from './lib/childServer';
import { load, type LoadResult } from './lib/load';
import type { Figure } from './lib/report';

const CONNECTIONS = 16;

/** Env that leaves tracing off whatever the bench's own environment holds (empty is unset). */
const TRACING_OFF = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', OTEL_TRACES_EXPORTER: '', OTEL_SDK_DISABLED: '' };

interface Collector {
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

/**
 * A loopback OTLP/HTTP collector stub: takes POST /v1/traces, reads the body and answers 200 with
 * an empty ExportTraceServiceResponse, as a collector does when it keeps everything.
 */
async function startCollector(): Promise<Collector> {
  const collector = { url: '', requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (collector.bytes += chunk.length));
    req.on('end', () => {
      collector.requests += 1;
      res.writeHead(req.method === 'POST' && req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  collector.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(collector, {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/**
 * Figure 10: what tracing costs POST /orders. The app (every role: the request's append, then the
 * projection the answer waits for, the socket push and the email, all traced) with tracing on,
 * exporting OTLP/HTTP protobuf with the SDK's default batch processor to a loopback collector stub
 * in this process, against the same app with tracing off (no SDK loaded), each on its own database,
 * 16 connections, runs in A B B A order (twice in a full run) so drift in machine load hits both.
 * CPU per request is the server process's (every role), the steadier measure on a shared machine.
 */
export async function benchTracingOverhead(quick: boolean): Promise<Figure[]> {
  const seconds = quick ? 2 : 3;
  const order = quick ? 'ABBA' : 'ABBAABBA';
  const fixtures: AppFixture[] = [];
  const collector = await startCollector();
  try {
    const [tracedFixture, plainFixture] = await Promise.all([createAppFixture('traced'), createAppFixture('untraced')]);
    fixtures.push(tracedFixture, plainFixture);
    const [traced, plain] = await Promise.all([
      tracedFixture.startApp({
        env: { ...TRACING_OFF, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_SERVICE_NAME: 'order-ledger-bench' },
      }),
      plainFixture.startApp({ env: TRACING_OFF }),
    ]);
    const writers = new Map<ChildServer, BenchUser>([
      [traced, await tracedFixture.user('traced')],
      [plain, await plainFixture.user('plain')],
    ]);
    const products = new Map<ChildServer, string>([
      [traced, tracedFixture.productId],
      [plain, plainFixture.productId],
    ]);
    const post = (server: ChildServer, durationSeconds: number): Promise<LoadResult> =>
      load({
        url: `${server.url}/orders`,
        method: 'POST',
        headers: bearer(writers.get(server)!),
        body: { items: [{ productId: products.get(server)!, quantity: 1 }], paymentMethod: 'MANUAL' },
        connections: CONNECTIONS,
        durationSeconds,
      });
    await post(traced, 1); // warm-up: JIT, pools
    await post(plain, 1);
    const runs: Array<[string, LoadResult & { cpuSeconds: number }]> = [];
    for (const letter of order) {
      const [label, server] = letter === 'A' ? (['traced', traced] as const) : (['plain', plain] as const);
      const cpuBefore = server.cpuSeconds() ?? 0;
      const result = await post(server, seconds);
      const cpuSeconds = (server.cpuSeconds() ?? 0) - cpuBefore;
      runs.push([label, { ...result, cpuSeconds }]);
      process.stderr.write(
        `[bench]   ${label}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms, CPU ${((1e6 * cpuSeconds) / Math.max(1, result.total)).toFixed(0)} µs/req\n`,
      );
    }
    const sum = (label: string, field: 'total' | 'seconds' | 'cpuSeconds'): number => runs.filter(([l]) => l === label).reduce((total, [, r]) => total + r[field], 0);
    const rate = (label: string): number => sum(label, 'total') / sum(label, 'seconds');
    const cpuMicros = (label: string): number => Math.round((1e6 * sum(label, 'cpuSeconds')) / Math.max(1, sum(label, 'total')));
    const p99 = (label: string): number => Math.max(...runs.filter(([l]) => l === label).map(([, r]) => r.p99Ms));
    const failed = runs.reduce((total, [, r]) => total + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} requests failed`);
    if (collector.requests === 0) throw new Error('the traced app exported nothing to the collector stub');
    return [
      {
        name: `10 POST /orders (MANUAL) c${CONNECTIONS} with tracing on (OTLP/HTTP to a loopback collector stub)`,
        unit: 'req/s',
        ours: rate('traced'),
        reference: { label: 'tracing off', value: rate('plain') },
        target: 'ratio reported',
        extra: {
          seconds,
          runs: order,
          cpuMicrosPerRequest: cpuMicros('traced'),
          referenceCpuMicrosPerRequest: cpuMicros('plain'),
          cpuRatio: Number((cpuMicros('traced') / Math.max(1, cpuMicros('plain'))).toFixed(2)),
          p99Ms: p99('traced'),
          referenceP99Ms: p99('plain'),
          collectorRequests: collector.requests,
          collectorKiB: Math.round(collector.bytes / 1024),
        },
      },
    ];
  } finally {
    await Promise.allSettled(fixtures.map((fixture) => fixture.close()));
    await collector.close();
  }
}

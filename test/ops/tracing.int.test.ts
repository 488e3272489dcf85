import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { exitOf, spawnTs } from '../support/childProcesses';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import type { ReportedSpan, TracedProcessReport } from '../support/tracedProcess';

const CHILD = path.join(__dirname, '../support/tracedProcess.ts');
const HTTP_SERVER = 1;
// A bound, not a timing: the child starts every role under tsx, and with the SDK, on a shared machine.
const CHILD_TEST_MS = 120_000;

/** Runs the whole runtime in a child process (OpenTelemetry hooks Node's require, which jest bypasses). */
async function runTracedProcess(db: TestDatabase, traced: boolean): Promise<TracedProcessReport> {
  const prefix = `ol-test:${randomBytes(6).toString('hex')}:`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, DATABASE_URL: db.url, REDIS_KEY_PREFIX: prefix, ...(traced ? { TRACED: '1' } : {}) };
  const child = spawnTs(CHILD, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const { code } = await exitOf(child);
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
  if (code !== 0) throw new Error(`traced process exited with ${code}: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as TracedProcessReport;
}

function only(spans: ReportedSpan[], name: string): ReportedSpan {
  const found = spans.filter((span) => span.name === name);
  expect({ name, count: found.length }).toEqual({ name, count: 1 });
  return found[0]!;
}

describe('traces (issue 14)', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it(
    'when tracing is on and an order is placed, then HTTP, append, projection, push and email spans form one trace',
    async () => {
      const report = await runTracedProcess(db, true);
      const { spans } = report;
      expect(report.openTelemetryPackages).toEqual(
        expect.arrayContaining(['sdk-node', 'instrumentation-http', 'instrumentation-express', 'instrumentation-pg', 'instrumentation-ioredis']),
      );

      const server = spans.find((span) => span.kind === HTTP_SERVER && span.scope === '@opentelemetry/instrumentation-http' && span.attributes['http.route'] === '/orders');
      expect(server).toBeDefined();
      const traceId = server!.traceId;
      expect(server!.parentSpanId).toBeUndefined();

      const append = only(spans, 'eventstore append');
      const project = only(spans, 'project OrderPlaced');
      const notify = only(spans, 'notify OrderPlaced');
      const push = only(spans, 'socket.io push');
      const email = only(spans, 'email send order-placed');
      for (const span of [append, project, notify, push, email]) expect({ name: span.name, traceId: span.traceId }).toEqual({ name: span.name, traceId });

      // The chain: the request appends; the subscribers continue the append's context from the event
      // metadata; the push is part of the notifier's span and the email job carries that span's context.
      expect(project.parentSpanId).toBe(append.spanId);
      expect(notify.parentSpanId).toBe(append.spanId);
      expect(push.parentSpanId).toBe(notify.spanId);
      expect(email.parentSpanId).toBe(notify.spanId);
      expect(report.eventMetadata.traceparent).toBe(`00-${traceId}-${append.spanId}-01`);
      expect(report.jobData?.traceparent).toBe(`00-${traceId}-${notify.spanId}-01`);
      expect(project.attributes).toMatchObject({ 'order_ledger.event.type': 'OrderPlaced', 'order_ledger.stream_id': `order-${report.orderId}` });

      // Express, pg and ioredis are instrumented too, inside the same trace.
      const scopes = new Set(spans.filter((span) => span.traceId === traceId).map((span) => span.scope));
      for (const scope of ['@opentelemetry/instrumentation-express', '@opentelemetry/instrumentation-pg', '@opentelemetry/instrumentation-ioredis'])
        expect(scopes.has(scope)).toBe(true);
      // Subscriber polling and probes start no traces of their own: every pg span belongs to a trace with a parent.
      expect(spans.filter((span) => span.scope === '@opentelemetry/instrumentation-pg' && span.parentSpanId === undefined)).toEqual([]);
    },
    CHILD_TEST_MS,
  );

  it(
    'when no OTEL_* variable is set, then no OpenTelemetry SDK or instrumentation is loaded and events and jobs carry no trace',
    async () => {
      const report = await runTracedProcess(db, false);
      expect(report.tracing).toBe(false);
      expect(report.openTelemetryPackages).toEqual(['api']);
      expect(report.spans).toEqual([]);
      expect(report.eventMetadata).not.toHaveProperty('traceparent');
      expect(report.jobData).toBeDefined();
      expect(report.jobData).not.toHaveProperty('traceparent');
    },
    CHILD_TEST_MS,
  );
});

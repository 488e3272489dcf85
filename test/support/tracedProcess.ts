/* eslint-disable @typescript-eslint/no-require-imports -- OpenTelemetry hooks require(): the SDK starts first, then the app's modules are required so express, pg and ioredis are instrumented */
// The whole runtime (api, projector, notifier, worker) in a child process, with tracing on
// (TRACED=1: the SDK with an in-memory exporter) or off (no OTEL_* variables). OpenTelemetry hooks
// Node's require, which jest's module registry bypasses, so this cannot run inside jest. It places
// one order over HTTP, waits for the email to be sent, and prints one JSON line: the spans, the
// stored event's metadata, the job's data, and whether any OpenTelemetry module was loaded.
//
// Only config and tracing modules are imported statically: express, pg and ioredis must be
// required after the SDK has started, exactly as src/main.ts does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/infra/config/config';
import { tracingRequested } from '../../src/infra/tracing/tracingSettings';
import type * as TracingModule from '../../src/infra/tracing/startTracing';
import type * as RuntimeModule from '../../src/infra/runtime';
import type * as UsersModule from '../../src/commands/accounts/users';
import type * as ProductsModule from '../../src/commands/products';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';

export interface ReportedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  scope: string;
  attributes: Record<string, unknown>;
}

export interface TracedProcessReport {
  tracing: boolean;
  /** OpenTelemetry packages in require.cache (prom-client loads @opentelemetry/api for exemplars either way). */
  openTelemetryPackages: string[];
  orderId: string;
  eventMetadata: Record<string, unknown>;
  jobData: Record<string, unknown> | undefined;
  spans: ReportedSpan[];
}

const deadline = (ms: number): (() => boolean) => {
  const until = Date.now() + ms;
  return () => Date.now() > until;
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const outbox = mkdtempSync(path.join(tmpdir(), 'ol-traced-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    ROLES: 'api,projector,notifier,worker',
    LOG_LEVEL: 'silent',
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: '6379',
    REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX,
    JWT_SECRET: 'traced-test-secret-0123456789abcdef0123456789',
    BCRYPT_ROUNDS: '4',
    MAIL_OUTBOX_DIR: outbox,
    MIGRATE_ON_START: 'false',
    ...(process.env.TRACED === '1' ? { OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'order-ledger-test' } : {}),
  });

  let exporter: SdkTraceBase.InMemorySpanExporter | undefined;
  let tracing: TracingModule.Tracing | undefined;
  if (tracingRequested(config)) {
    const sdk = require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
    exporter = new sdk.InMemorySpanExporter();
    tracing = (require('../../src/infra/tracing/startTracing') as typeof TracingModule).startTracing(process.env, {
      serviceName: config.OTEL_SERVICE_NAME,
      spanProcessors: [new sdk.SimpleSpanProcessor(exporter)],
    });
  }
  const { startRuntime } = require('../../src/infra/runtime') as typeof RuntimeModule;
  const { createUser } = require('../../src/commands/accounts/users') as typeof UsersModule;
  const { createProduct } = require('../../src/commands/products') as typeof ProductsModule;

  const runtime = await startRuntime(config, tracing ? { tracing: tracing.events } : {});
  try {
    const { knex, tokens } = runtime.deps;
    const user = await createUser(knex, { email: `traced-${process.pid}@example.test`, password: `pw-${process.pid}-traced-secret`, role: 'user' }, { bcryptRounds: 4 });
    const product = await createProduct(knex, { sku: `SKU-TRACE-${process.pid}`, name: 'Widget', unitAmount: 1999, currency: 'USD' }, new Date());
    const answer = await fetch(`${runtime.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.sign(user).token}` },
      body: JSON.stringify({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL' }),
      signal: AbortSignal.timeout(10_000),
    });
    if (answer.status !== 201) throw new Error(`POST /orders answered ${answer.status}: ${await answer.text()}`);
    const orderId = ((await answer.json()) as { data: { order: { id: string } } }).data.order.id;

    const expired = deadline(60_000);
    while (!(await knex('email_sends').where({ order_id: orderId }).whereNotNull('sent_at').first())) {
      if (expired()) throw new Error('the order-placed email was not sent within 60 s');
      await sleep(50);
    }
    // The worker's span ends just after the send is recorded.
    while (exporter && !exporter.getFinishedSpans().some((span) => span.name.startsWith('email send'))) {
      if (expired()) throw new Error('the email span did not end within 60 s');
      await sleep(20);
    }
    const [event] = await runtime.deps.store.readStream(`order-${orderId}`);
    const queue = new (require('bullmq') as typeof import('bullmq')).Queue('emails', { connection: runtime.deps.redis, prefix: `${config.REDIS_KEY_PREFIX}bull` });
    const job = await queue.getJob(event!.id);
    await queue.close();
    const report: TracedProcessReport = {
      tracing: tracing !== undefined,
      openTelemetryPackages: [
        ...new Set(
          Object.keys(require.cache).flatMap((file) => {
            const match = /[\\/]node_modules[\\/]@opentelemetry[\\/]([^\\/]+)/.exec(file);
            return match ? [match[1]!] : [];
          }),
        ),
      ].sort(),
      orderId,
      eventMetadata: event!.metadata,
      jobData: job ? { ...job.data } : undefined,
      spans: (exporter?.getFinishedSpans() ?? []).map((span) => ({
        name: span.name,
        kind: span.kind,
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        scope: span.instrumentationScope.name,
        attributes: { ...span.attributes },
      })),
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await runtime.stop();
    await tracing?.shutdown();
    rmSync(outbox, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);

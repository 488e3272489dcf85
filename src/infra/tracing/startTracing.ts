import { trace } from '@opentelemetry/api';
import { core, NodeSDK, type tracing as sdkTracing } from '@opentelemetry/sdk-node';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import type { EventTracing } from './eventTracing';
import { otelEventTracing } from './otelEventTracing';

export interface Tracing {
  events: EventTracing;
  /** Exports the spans still buffered and stops the SDK; bounded by the exporter's own timeout. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  /** OTEL_SERVICE_NAME as the config read it (default order-ledger). */
  serviceName: string;
  /** Where spans go instead of the exporter the OTEL_* variables name (tests: an in-memory exporter). */
  spanProcessors?: sdkTracing.SpanProcessor[];
}

/** Probes and scrapes would be most of the traces and none of the interest. */
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * Starts the OpenTelemetry SDK: traces only (metrics stay with prom-client), exporters, sampler and
 * resource from the standard OTEL_* variables. Must run before express, pg and ioredis are first
 * required, or their instrumentation never hooks in: the entry points require this module, and the
 * runtime after it, only when tracingRequested() says so. `env` is the environment with the .env
 * file; the SDK reads process.env, so the file's OTEL_* variables are copied there (the environment
 * still wins).
 */
export function startTracing(env: NodeJS.ProcessEnv, options: StartTracingOptions): Tracing {
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('OTEL_') && value !== undefined && process.env[key] === undefined) process.env[key] = value;
  }
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? '') }),
      new ExpressInstrumentation(),
      // Only inside a trace: the subscribers' polling and BullMQ's blocking reads would each start one.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return {
    events: otelEventTracing(trace.getTracer('order-ledger'), new core.W3CTraceContextPropagator()),
    shutdown: () => sdk.shutdown(),
  };
}

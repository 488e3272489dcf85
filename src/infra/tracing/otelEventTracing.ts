import {
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import { carrierOf, noTracing, type EventSpans, type EventTracing, type TraceCarrier, type TracedRecord } from './eventTracing';

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

async function inSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    fail(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * EventTracing on the OpenTelemetry API, given the tracer of the SDK started by startTracing and
 * the W3C propagator (events and jobs carry `traceparent` whatever OTEL_PROPAGATORS says for HTTP).
 * Subscriber spans are children of the span that appended the event, so one trace runs from the
 * command to its read models, pushes and emails; the event's own context travels in its metadata.
 */
export function otelEventTracing(tracer: Tracer, w3c: TextMapPropagator<TraceCarrier>): EventTracing {
  const injected = (ctx: Context): TraceCarrier => {
    const carrier: TraceCarrier = {};
    w3c.inject(ctx, carrier, defaultTextMapSetter as TextMapSetter<TraceCarrier>);
    return carrier;
  };
  /** The stored trace as a parent context; undefined when the carrier holds no valid trace. */
  const parentOf = (carrier: TraceCarrier): Context | undefined => {
    if (carrier.traceparent === undefined) return undefined;
    const parent = w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter as TextMapGetter<TraceCarrier>);
    return trace.getSpanContext(parent) ? parent : undefined;
  };
  return {
    open(name: string, records: readonly TracedRecord[]): EventSpans {
      const open = new Map<TracedRecord, { span: Span; ctx: Context }>();
      for (const record of records) {
        const parent = parentOf(carrierOf(record.metadata));
        if (!parent) continue;
        const span = tracer.startSpan(
          `${name} ${record.type}`,
          {
            kind: SpanKind.CONSUMER,
            attributes: {
              'order_ledger.event.type': record.type,
              'order_ledger.stream_id': record.streamId,
              'order_ledger.position': record.position.toString(),
              'order_ledger.batch.events': records.length,
            },
          },
          parent,
        );
        open.set(record, { span, ctx: trace.setSpan(parent, span) });
      }
      const first = open.values().next().value;
      if (!first) return noTracing.open(name, records);
      return {
        run: (work) => context.with(first.ctx, work),
        child(record, childName) {
          const parent = open.get(record);
          if (!parent) return () => undefined;
          const span = tracer.startSpan(childName, { kind: SpanKind.PRODUCER }, parent.ctx);
          return () => span.end();
        },
        carrier(record) {
          const parent = open.get(record);
          return parent ? injected(parent.ctx) : {};
        },
        end(error?: unknown) {
          for (const { span } of open.values()) {
            if (error !== undefined) fail(span, error);
            span.end();
          }
        },
      };
    },

    continueFrom(name, carrier, attributes, work) {
      const span = tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes }, parentOf(carrier) ?? ROOT_CONTEXT);
      return context.with(trace.setSpan(context.active(), span), () => inSpan(span, work));
    },

    append(name, attributes, work) {
      const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes });
      const ctx = trace.setSpan(context.active(), span);
      return context.with(ctx, () => inSpan(span, () => work(injected(ctx))));
    },
  };
}

/**
 * The trace hooks the subscribers (projector, notifier, refund reactor), the email worker and the
 * event-store wrapper call. This module loads no OpenTelemetry code: with tracing off (the default)
 * every role gets `noTracing`, whose hooks only run the work they are given.
 */

/** W3C trace context as it is stored with an event (metadata) or a job (job data). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** What the subscribers know of an event before decoding it. */
export interface TracedRecord {
  type: string;
  streamId: string;
  position: bigint;
  metadata: Record<string, unknown>;
}

/** Spans opened for a batch: one per event that carries a trace, each continuing that event's trace. */
export interface EventSpans {
  /** Runs the batch's work in the first traced event's span, so database and Redis calls nest there. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** A child of the record's span (one socket push, one queued job); call the returned function to end it. */
  child(record: TracedRecord, name: string): () => void;
  /** The record's span as a carrier, for work handed on (email job data); empty when it has none. */
  carrier(record: TracedRecord): TraceCarrier;
  /** Ends every span, marked failed when the batch failed. */
  end(error?: unknown): void;
}

export interface EventTracing {
  /** Opens `${name} ${event type}` spans for the records that carry a trace. */
  open(name: string, records: readonly TracedRecord[]): EventSpans;
  /** Runs work in a span continuing the trace of a carrier (a job's data); a new trace when it has none. */
  continueFrom<T>(name: string, carrier: TraceCarrier, attributes: Record<string, string>, work: () => Promise<T>): Promise<T>;
  /** Runs an append in a span and gives it the carrier to store in each event's metadata. */
  append<T>(name: string, attributes: Record<string, string>, work: (carrier: TraceCarrier) => Promise<T>): Promise<T>;
}

const EMPTY: TraceCarrier = Object.freeze({});
const endNothing = (): void => undefined;

const noSpans: EventSpans = {
  run: (work) => work(),
  child: () => endNothing,
  carrier: () => EMPTY,
  end: endNothing,
};

/** Tracing off: no spans, no context, nothing added to events or jobs. */
export const noTracing: EventTracing = {
  open: () => noSpans,
  continueFrom: (_name, _carrier, _attributes, work) => work(),
  append: (_name, _attributes, work) => work(EMPTY),
};

/** The carrier fields of an event's metadata or a job's data, when they are strings. */
export function carrierOf(source: { traceparent?: unknown; tracestate?: unknown }): TraceCarrier {
  const { traceparent, tracestate } = source;
  return {
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
    ...(typeof tracestate === 'string' ? { tracestate } : {}),
  };
}

import type { EventData, EventStore, StreamAppend } from '../eventstore/eventStore';
import type { EventTracing, TraceCarrier } from './eventTracing';

function withCarrier(events: EventData[], carrier: TraceCarrier): EventData[] {
  if (carrier.traceparent === undefined) return events;
  return events.map((event) => ({ ...event, metadata: { ...event.metadata, ...carrier } }));
}

/**
 * The same store, with every append in a span whose W3C trace context is stored in each appended
 * event's metadata (`traceparent`, `tracestate`): the subscribers and the email worker continue the
 * trace from there. Installed only when tracing is on; idempotent re-appends compare ids, not
 * metadata, so a retry in another trace is still a no-op.
 */
export function traceEventStore<S extends EventStore>(store: S, tracing: EventTracing): S {
  const appendToStream: EventStore['appendToStream'] = (streamId, events, options) =>
    tracing.append('eventstore append', { 'order_ledger.stream_id': streamId, 'order_ledger.events': String(events.length) }, (carrier) =>
      store.appendToStream(streamId, withCarrier(events, carrier), options),
    );
  const appendToStreams: EventStore['appendToStreams'] = (appends: readonly StreamAppend[]) =>
    tracing.append(
      'eventstore append',
      { 'order_ledger.stream_id': appends.map((a) => a.streamId).join(','), 'order_ledger.events': String(appends.reduce((n, a) => n + a.events.length, 0)) },
      (carrier) => store.appendToStreams(appends.map((a) => ({ ...a, events: withCarrier(a.events, carrier) }))),
    );
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'appendToStream') return appendToStream;
      if (property === 'appendToStreams') return appendToStreams;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

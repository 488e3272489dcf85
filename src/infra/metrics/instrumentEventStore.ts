import { DuplicateEventIdError, WrongExpectedVersionError, type EventStore } from '../eventstore/eventStore';
import type { AppendOutcome, Metrics } from './metrics';

/** The port's append operations: one stream, or several all or nothing. */
const APPEND_METHODS = new Set<PropertyKey>(['appendToStream', 'appendToStreams']);

export function appendOutcome(error: unknown): AppendOutcome {
  if (error instanceof WrongExpectedVersionError || (error as { code?: unknown }).code === 'WRONG_EXPECTED_VERSION') return 'conflict';
  if (error instanceof DuplicateEventIdError || (error as { code?: unknown }).code === 'DUPLICATE_EVENT_ID') return 'duplicate';
  return 'error';
}

/** Events an append call carries: `(streamId, events, options)`, or a list of `{ events }` for a multi-stream append. */
function eventCount(method: PropertyKey, args: unknown[]): number {
  if (method === 'appendToStream') return Array.isArray(args[1]) ? args[1].length : 0;
  const streams = args[0];
  if (!Array.isArray(streams)) return 0;
  return streams.reduce((sum: number, stream: unknown) => {
    const events = (stream as { events?: unknown } | null)?.events;
    return sum + (Array.isArray(events) ? events.length : 0);
  }, 0);
}

/**
 * The same store, with every append counted and timed by outcome. A wrapper at composition rather
 * than code in the adapters, so both adapters (and any store added later) are measured alike; reads
 * and subscriptions pass through untouched.
 */
export function instrumentEventStore<S extends EventStore>(store: S, metrics: Metrics): S {
  // One wrapper per method, made on first use: commands read the store on every request.
  const wrappers = new Map<PropertyKey, { of: unknown; wrapper: unknown }>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const cached = wrappers.get(property);
      if (cached?.of === value) return cached.wrapper;
      // Methods keep the adapter as `this` (private fields, bound state).
      const wrapper = APPEND_METHODS.has(property)
        ? timedAppend(target, property, value as (...args: unknown[]) => Promise<unknown>, metrics)
        : (value as (...args: unknown[]) => unknown).bind(target);
      wrappers.set(property, { of: value, wrapper });
      return wrapper;
    },
  });
}

function timedAppend(target: EventStore, property: PropertyKey, append: (...args: unknown[]) => Promise<unknown>, metrics: Metrics): (...args: unknown[]) => Promise<unknown> {
  return async (...args: unknown[]): Promise<unknown> => {
    const started = process.hrtime.bigint();
    let outcome: AppendOutcome = 'ok';
    try {
      return await append.apply(target, args);
    } catch (error) {
      outcome = appendOutcome(error);
      throw error;
    } finally {
      const labels = { store: target.kind, outcome };
      metrics.appends.inc(labels);
      metrics.appendDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.appendEvents.observe(labels, eventCount(property, args));
    }
  };
}

import type { ConsistencyOutcome, Metrics } from './metrics';

/** What is measured of a read-your-writes waiter: where the read models stand, and the wait itself. */
export interface MeasuredWaiter {
  readonly position: bigint;
  waitFor(position: bigint, timeoutMs: number): Promise<void>;
}

/**
 * Counts and times the read-your-writes waits of this waiter (queries with X-Min-Position, command
 * answers). Wraps the instance's `waitFor` at composition, so every caller is measured without
 * knowing about metrics. `isTimeout` tells a wait that ran out of time from one that failed.
 */
export function instrumentWaiter<W extends MeasuredWaiter>(waiter: W, metrics: Metrics, isTimeout: (error: unknown) => boolean): W {
  const waitFor = waiter.waitFor.bind(waiter);
  waiter.waitFor = async (position: bigint, timeoutMs: number): Promise<void> => {
    if (position <= waiter.position) {
      metrics.consistencyWaits.inc({ outcome: 'immediate' });
      return;
    }
    const started = process.hrtime.bigint();
    let outcome: ConsistencyOutcome = 'reached';
    try {
      await waitFor(position, timeoutMs);
    } catch (error) {
      outcome = isTimeout(error) ? 'timeout' : 'error';
      throw error;
    } finally {
      metrics.consistencyWaits.inc({ outcome });
      metrics.consistencyWaitDuration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
  return waiter;
}

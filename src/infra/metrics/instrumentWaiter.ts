import { ConsistencyTimeoutError, type ProjectionWaiter } from '../../queries/consistency';
import type { ConsistencyOutcome, Metrics } from './metrics';

/**
 * Counts and times the read-your-writes waits of this waiter (queries with X-Min-Position, command
 * answers). Wraps the instance's `waitFor` at composition, so every caller is measured without
 * knowing about metrics.
 */
export function instrumentWaiter(waiter: ProjectionWaiter, metrics: Metrics): ProjectionWaiter {
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
      outcome = error instanceof ConsistencyTimeoutError ? 'timeout' : 'error';
      throw error;
    } finally {
      metrics.consistencyWaits.inc({ outcome });
      metrics.consistencyWaitDuration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
  return waiter;
}

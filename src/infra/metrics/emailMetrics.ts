import type { Metrics } from './metrics';

interface ObservedJob {
  data: { kind: string };
  /** Set by BullMQ when the job leaves for the failed set (no retry left, or an unrecoverable error). */
  finishedOn?: number | null;
}

type Outcome = { status: 'sent' } | { status: 'skipped'; reason: string };

/** The events of a BullMQ worker the email metrics need (its `on`). */
export interface ObservableEmailWorker {
  on(event: 'completed', listener: (job: ObservedJob, outcome: Outcome) => void): unknown;
  on(event: 'failed', listener: (job: ObservedJob | undefined, error: Error) => void): unknown;
}

/** Counts what the email worker does, from its own events: nothing in the send path changes. */
export function observeEmailWorker(worker: ObservableEmailWorker, metrics: Metrics): void {
  worker.on('completed', (job, outcome) => {
    if (outcome.status === 'sent') metrics.emailsSent.inc({ kind: job.data.kind });
    else metrics.emailsSkipped.inc({ kind: job.data.kind, reason: outcome.reason });
  });
  worker.on('failed', (job) => {
    if (!job) return;
    metrics.emailsFailed.inc({ kind: job.data.kind, final: typeof job.finishedOn === 'number' ? 'true' : 'false' });
  });
}

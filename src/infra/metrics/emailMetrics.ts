import type { Metrics } from './metrics';

interface ObservedJob {
  data: { kind: string };
  /** Set by BullMQ when the job leaves for the failed set (no retry left, or an unrecoverable error). */
  finishedOn?: number | null;
}

/** The events of a BullMQ worker the email metrics need (its `on`). */
export interface ObservableEmailWorker {
  on(event: 'completed', listener: (job: ObservedJob, outcome: unknown) => void): unknown;
  on(event: 'failed', listener: (job: ObservedJob | undefined, error: Error) => void): unknown;
}

/** Counts what the email worker does, from its own events: nothing in the send path changes. */
export function observeEmailWorker(worker: ObservableEmailWorker, metrics: Metrics): void {
  worker.on('completed', (job, outcome) => {
    // The job's result: { status: 'sent', … } or { status: 'skipped', reason }.
    const { status, reason } = (outcome ?? {}) as { status?: unknown; reason?: unknown };
    if (status === 'sent') metrics.emailsSent.inc({ kind: job.data.kind });
    else if (status === 'skipped') metrics.emailsSkipped.inc({ kind: job.data.kind, reason: typeof reason === 'string' ? reason : 'unknown' });
  });
  worker.on('failed', (job) => {
    if (!job) return;
    metrics.emailsFailed.inc({ kind: job.data.kind, final: typeof job.finishedOn === 'number' ? 'true' : 'false' });
  });
}

import type { Metrics } from './metrics';

interface ObservedJob {
  /** One email's job data, or a batch job's (`emails`). */
  data: { kind?: string; emails?: unknown };
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
  // One email's result: { status: 'sent', … }, { status: 'skipped', reason }, or in a batch job
  // { status: 'requeued' } (a failed attempt; the email goes on as its own job).
  const count = (kind: string, outcome: unknown): void => {
    const { status, reason } = (outcome ?? {}) as { status?: unknown; reason?: unknown };
    if (status === 'sent') metrics.emailsSent.inc({ kind });
    else if (status === 'skipped') metrics.emailsSkipped.inc({ kind, reason: typeof reason === 'string' ? reason : 'unknown' });
    else if (status === 'requeued') metrics.emailsFailed.inc({ kind, final: 'false' });
  };
  worker.on('completed', (job, outcome) => {
    const batch = (outcome ?? {}) as { status?: unknown; emails?: Array<{ kind: string; outcome: unknown }> };
    if (batch.status === 'batch') for (const email of batch.emails ?? []) count(email.kind, email.outcome);
    else count(job.data.kind ?? 'unknown', outcome);
  });
  worker.on('failed', (job) => {
    if (!job) return;
    metrics.emailsFailed.inc({ kind: job.data.kind ?? 'batch', final: typeof job.finishedOn === 'number' ? 'true' : 'false' });
  });
}

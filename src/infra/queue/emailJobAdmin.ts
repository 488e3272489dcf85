import { Queue, type Job } from 'bullmq';
import type { Config } from '../config/config';
import { createRedis } from '../redis';
import { bullPrefix, EMAIL_QUEUE, isEmailBatch, type EmailQueueData } from './emailQueue';

/** States an email job can be listed in; completed jobs are kept a day (see emailJobOptions). */
export const LISTED_STATES = ['failed', 'active', 'waiting', 'prioritized', 'delayed', 'completed'] as const;
export type ListedState = (typeof LISTED_STATES)[number];
/** What `emails list` shows by default: every job that still has work to do, failed ones first. */
export const OPEN_STATES: readonly ListedState[] = ['failed', 'active', 'waiting', 'prioritized', 'delayed'];

/** One email job as an operator sees it: ids only, never an address or a rendered message. */
export interface EmailJobView {
  /** The BullMQ job id: the id of the event the email is about (`batch-<first event id>` for a notifier batch's job). */
  jobId: string;
  orderId: string | null;
  /** The email's kind; `batch of N` for a job carrying a notifier batch's N emails. */
  kind: string;
  state: ListedState;
  attemptsMade: number;
  maxAttempts: number;
  /** The last attempt's error message (an SMTP reply, a lookup failure), or null. */
  lastError: string | null;
  createdAt: string;
  /** When the last attempt started. */
  processedAt: string | null;
  /** When the job completed or gave up. */
  finishedAt: string | null;
}

const iso = (ms: number | null | undefined): string | null => (typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null);

function view(job: Job<EmailQueueData>, state: ListedState): EmailJobView {
  const data = job.data as EmailQueueData | undefined;
  const batch = data !== undefined && isEmailBatch(data) ? data : undefined;
  const single = data !== undefined && !isEmailBatch(data) ? data : undefined;
  return {
    jobId: String(job.id),
    orderId: single?.orderId ?? null,
    kind: batch ? `batch of ${batch.emails.length}` : (single?.kind ?? job.name),
    state,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    lastError: job.failedReason || null,
    createdAt: iso(job.timestamp) ?? new Date(0).toISOString(),
    processedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
  };
}

export class EmailJobNotFoundError extends Error {
  readonly code = 'EMAIL_JOB_NOT_FOUND';
  constructor(jobId: string) {
    super(`no email job ${jobId} (a completed job is removed after a day; the id is the event id)`);
  }
}

export class EmailJobNotFailedError extends Error {
  readonly code = 'EMAIL_JOB_NOT_FAILED';
  constructor(jobId: string, state: string) {
    super(`email job ${jobId} is ${state}, not failed: nothing to retry${state === 'delayed' ? ' (it is waiting for its next attempt)' : ''}`);
  }
}

export interface RetryAllReport {
  retried: number;
  /** Failed jobs that changed state between being read and being retried (a worker or another operator got there first). */
  skipped: number;
  /** Jobs still in the failed set afterwards (beyond the limit, or failed again meanwhile). */
  remainingFailed: number;
}

/**
 * Operations on the `emails` queue for operators: list jobs by state and put failed ones back.
 * Its own Redis connection gives up after a few seconds, so a command run while Redis is down
 * fails instead of waiting for it.
 */
export class EmailJobAdmin {
  private readonly connection;
  readonly queue: Queue<EmailQueueData>;

  constructor(config: Config) {
    this.connection = createRedis(config, { maxRetriesPerRequest: 1, retryStrategy: (times) => (times > 3 ? null : 250) });
    // Errors reach the caller through the command that failed; the event only needs a listener.
    this.connection.on('error', () => undefined);
    this.queue = new Queue<EmailQueueData>(EMAIL_QUEUE, { connection: this.connection, prefix: bullPrefix(config) });
    this.queue.on('error', () => undefined);
  }

  /** Jobs in `states` (in that order, newest first within a state), at most `limit`; `counts` covers every state. */
  async list(states: readonly ListedState[], limit: number): Promise<{ jobs: EmailJobView[]; counts: Record<ListedState, number> }> {
    const counts = (await this.queue.getJobCounts(...LISTED_STATES)) as Record<ListedState, number>;
    const jobs: EmailJobView[] = [];
    for (const state of states) {
      const room = limit - jobs.length;
      if (room <= 0) break;
      if ((counts[state] ?? 0) === 0) continue;
      for (const job of await this.queue.getJobs([state], 0, room - 1, false)) {
        if (jobs.length < limit) jobs.push(view(job, state));
      }
    }
    return { jobs, counts };
  }

  /**
   * Puts one failed job back in the queue with a fresh set of attempts (its backoff starts over).
   * The outbox row is still pending, so the worker sends it once; a job that is not failed is left alone.
   */
  async retry(jobId: string): Promise<EmailJobView> {
    const job = await this.queue.getJob(jobId);
    if (!job) throw new EmailJobNotFoundError(jobId);
    const state = await job.getState();
    if (state !== 'failed') throw new EmailJobNotFailedError(jobId, state);
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return view(job, 'waiting');
  }

  /** Retries failed jobs, newest first, `limit` at most, reading them a page at a time. */
  async retryAllFailed(limit: number, pageSize = 100): Promise<RetryAllReport> {
    let retried = 0;
    let skipped = 0;
    // Retried jobs leave the failed set; the ones that could not be retried stay at the front.
    while (retried + skipped < limit) {
      const page = await this.queue.getJobs(['failed'], skipped, skipped + Math.min(pageSize, limit - retried - skipped) - 1, false);
      if (page.length === 0) break;
      for (const job of page) {
        try {
          await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          retried += 1;
        } catch {
          skipped += 1;
        }
      }
    }
    return { retried, skipped, remainingFailed: await this.queue.getFailedCount() };
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.connection.disconnect();
  }
}

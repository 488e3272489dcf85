import { Queue, type JobsOptions } from 'bullmq';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { createRedis } from '../redis';

export const EMAIL_QUEUE = 'emails';

/**
 * Ids only: the worker looks up the recipient and the order, so no personal data sits in Redis.
 * `kind` names the email (the notifications module says which kinds exist).
 */
export interface EmailJobData {
  eventId: string;
  orderId: string;
  kind: string;
  /** W3C trace context of the notifier's span, when tracing is on: the send continues the trace. */
  traceparent?: string;
  tracestate?: string;
}

/**
 * The emails one notifier batch owes, in one job: under load BullMQ's work per job (adding it,
 * moving it to active and to completed) is done once per batch instead of once per email. An email
 * that fails in a batch goes on as a job of its own (see the worker), so retries, the failed set and
 * `emails retry` stay per email.
 */
export interface EmailBatchData {
  emails: EmailJobData[];
}

/** What a job of the `emails` queue carries: one email, or a notifier batch's. */
export type EmailQueueData = EmailJobData | EmailBatchData;

export const isEmailBatch = (data: EmailQueueData): data is EmailBatchData => Array.isArray((data as Partial<EmailBatchData>).emails);

/** BullMQ keys live under REDIS_KEY_PREFIX so deployments (and test runs) sharing a Redis stay apart. */
export const bullPrefix = (config: Config): string => `${config.REDIS_KEY_PREFIX}bull`;

/** The wait before the second attempt at an email (the exponential backoff's first step). */
const FIRST_RETRY_DELAY_MS = 2000;

export const emailJobOptions: JobsOptions = {
  attempts: 8,
  // 2 s, 4 s, 8 s … about 4 minutes in all before a job is parked in the failed set.
  backoff: { type: 'exponential', delay: FIRST_RETRY_DELAY_MS },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  // Failed jobs stay for inspection (and a manual retry).
  removeOnFail: false,
};

export interface EmailQueue {
  /** Adds one job per email with the event id as job id: adding one that BullMQ still holds is a no-op. */
  enqueue(jobs: EmailJobData[]): Promise<void>;
  /** A notifier batch's emails: one job for several (id `batch-<first event id>`), a plain job for one. */
  enqueueBatch(jobs: EmailJobData[]): Promise<void>;
  /**
   * Emails whose attempt in a batch failed, each as its own job (id = event id) with the attempts
   * left after that first one, starting after the first backoff step; `final` ones (an unrecoverable
   * error) get one immediate attempt, which fails them into the failed set with their reason.
   */
  requeue(failed: Array<{ email: EmailJobData; final: boolean }>): Promise<void>;
  queue: Queue<EmailQueueData>;
  close(): Promise<void>;
}

export function createEmailQueue(config: Config, logger: Logger): EmailQueue {
  const connection = createRedis(config);
  connection.on('error', (error) => logger.warn({ err: error.message }, 'email queue redis connection error'));
  const queue = new Queue<EmailQueueData>(EMAIL_QUEUE, { connection, prefix: bullPrefix(config), defaultJobOptions: emailJobOptions });
  queue.on('error', (error) => logger.warn({ err: error.message }, 'email queue error'));
  return {
    queue,
    async enqueue(jobs) {
      if (jobs.length === 0) return;
      await queue.addBulk(jobs.map((data) => ({ name: data.kind, data, opts: { jobId: data.eventId } })));
    },
    async enqueueBatch(jobs) {
      const [first] = jobs;
      if (!first) return;
      if (jobs.length === 1) await queue.add(first.kind, first, { jobId: first.eventId });
      else await queue.add('batch', { emails: jobs }, { jobId: `batch-${first.eventId}` });
    },
    async requeue(failed) {
      if (failed.length === 0) return;
      const attemptsLeft = Math.max(1, (emailJobOptions.attempts ?? 1) - 1);
      await queue.addBulk(
        failed.map(({ email, final }) => ({
          name: email.kind,
          data: email,
          opts: { jobId: email.eventId, attempts: final ? 1 : attemptsLeft, delay: final ? 0 : FIRST_RETRY_DELAY_MS },
        })),
      );
    },
    async close() {
      await queue.close().catch(() => undefined);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

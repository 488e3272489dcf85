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

/** BullMQ keys live under REDIS_KEY_PREFIX so deployments (and test runs) sharing a Redis stay apart. */
export const bullPrefix = (config: Config): string => `${config.REDIS_KEY_PREFIX}bull`;

export const emailJobOptions: JobsOptions = {
  attempts: 8,
  // 2 s, 4 s, 8 s … about 4 minutes in all before a job is parked in the failed set.
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  // Failed jobs stay for inspection (and a manual retry).
  removeOnFail: false,
};

export interface EmailQueue {
  /** Adds the jobs with the event id as job id: adding one that BullMQ still holds is a no-op. */
  enqueue(jobs: EmailJobData[]): Promise<void>;
  queue: Queue<EmailJobData>;
  close(): Promise<void>;
}

export function createEmailQueue(config: Config, logger: Logger): EmailQueue {
  const connection = createRedis(config);
  connection.on('error', (error) => logger.warn({ err: error.message }, 'email queue redis connection error'));
  const queue = new Queue<EmailJobData>(EMAIL_QUEUE, { connection, prefix: bullPrefix(config), defaultJobOptions: emailJobOptions });
  queue.on('error', (error) => logger.warn({ err: error.message }, 'email queue error'));
  return {
    queue,
    async enqueue(jobs) {
      if (jobs.length === 0) return;
      await queue.addBulk(jobs.map((data) => ({ name: data.kind, data, opts: { jobId: data.eventId } })));
    },
    async close() {
      await queue.close().catch(() => undefined);
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

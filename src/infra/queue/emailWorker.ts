import { UnrecoverableError, Worker, type Processor } from 'bullmq';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { createMailer, type Mailer } from '../mail/mailer';
import { createRedis } from '../redis';
import { carrierOf, type EventTracing } from '../tracing/eventTracing';
import { bullPrefix, EMAIL_QUEUE, isEmailBatch, type EmailJobData, type EmailQueue, type EmailQueueData } from './emailQueue';

export interface EmailWorkerOptions {
  config: Config;
  logger: Logger;
  /** What one job does (the notifications module's email job), given the worker's mailer. */
  process(data: EmailJobData, mailer: Mailer, logger: Logger): Promise<unknown>;
  /** Where the emails that failed in a batch job go on, each as its own job. */
  requeue: EmailQueue['requeue'];
  concurrency?: number;
  /** How long stop() lets in-flight sends finish before abandoning them to a retry. */
  shutdownGraceMs?: number;
  /** Each job in a span continuing the trace its data carries; absent: no spans. */
  tracing?: EventTracing;
}

export interface EmailWorker {
  worker: Worker<EmailQueueData, unknown>;
  mailer: Mailer;
  stop(): Promise<void>;
}

/** Jobs at once: enough for their database work to go in shared batches (see the email job). */
export const DEFAULT_EMAIL_CONCURRENCY = 16;

export function startEmailWorker(options: EmailWorkerOptions): EmailWorker {
  const { config } = options;
  const logger = options.logger.child({ role: 'worker' });
  const mailer = createMailer(config, logger);
  const connection = createRedis(config);
  connection.on('error', (error) => logger.warn({ err: error.message }, 'email worker redis connection error'));
  const { tracing } = options;
  const processOne = (data: EmailJobData, jobId: string): Promise<unknown> =>
    tracing
      ? tracing.continueFrom(`email send ${data.kind}`, carrierOf(data), { 'order_ledger.email.kind': data.kind, 'messaging.message.id': jobId }, () =>
          options.process(data, mailer, logger),
        )
      : options.process(data, mailer, logger);
  const concurrency = options.concurrency ?? DEFAULT_EMAIL_CONCURRENCY;
  const processor: Processor<EmailQueueData, unknown> = (job) =>
    isEmailBatch(job.data) ? processBatch(job.data.emails, processOne, concurrency, options.requeue, logger) : processOne(job.data, job.id ?? '');
  const worker = new Worker<EmailQueueData, unknown>(EMAIL_QUEUE, processor, {
    connection,
    prefix: bullPrefix(config),
    concurrency,
    autorun: true,
  });
  worker.on('completed', (job, outcome) => logger.debug({ jobId: job.id, kind: jobKind(job.data), outcome }, 'email job done'));
  worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, kind: job && jobKind(job.data), attempts: job?.attemptsMade, err: error.message }, 'email job failed'));
  worker.on('error', (error) => logger.warn({ err: error.message }, 'email worker error'));

  return {
    worker,
    mailer,
    async stop() {
      const grace = options.shutdownGraceMs ?? 15_000;
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        worker.close().then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), grace);
        }),
      ]);
      clearTimeout(timer);
      if (!finished) {
        logger.warn({ graceMs: grace }, 'email worker did not finish in-flight jobs in time; they will be retried');
        await worker.close(true).catch(() => undefined);
      }
      mailer.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

/** What a job is about, for logs and metrics: the email's kind, or `batch`. */
export function jobKind(data: EmailQueueData): string {
  return isEmailBatch(data) ? 'batch' : data.kind;
}

/** One email's outcome in a batch job: what processing it returned, or `requeued` after a failure. */
export type BatchEmailOutcome = { kind: string; outcome: unknown } | { kind: string; outcome: { status: 'requeued'; final: boolean } };

/**
 * A batch job: its emails, `concurrency` at a time (their database work goes in shared statements).
 * Each email that fails is queued again as its own job, its first attempt spent here; the batch job
 * then completes. Only when that queueing fails does the batch job fail, to be retried whole (emails
 * already sent are skipped by their claims).
 */
async function processBatch(
  emails: readonly EmailJobData[],
  processOne: (data: EmailJobData, jobId: string) => Promise<unknown>,
  concurrency: number,
  requeue: EmailQueue['requeue'],
  logger: Logger,
): Promise<{ status: 'batch'; emails: BatchEmailOutcome[] }> {
  const outcomes: BatchEmailOutcome[] = [];
  const failed: Array<{ email: EmailJobData; final: boolean; error: string }> = [];
  for (let start = 0; start < emails.length; start += concurrency) {
    const slice = emails.slice(start, start + concurrency);
    const settled = await Promise.allSettled(slice.map((email) => processOne(email, email.eventId)));
    settled.forEach((result, index) => {
      const email = slice[index]!;
      if (result.status === 'fulfilled') {
        outcomes.push({ kind: email.kind, outcome: result.value });
        return;
      }
      const final = result.reason instanceof UnrecoverableError;
      failed.push({ email, final, error: result.reason instanceof Error ? result.reason.message : String(result.reason) });
      outcomes.push({ kind: email.kind, outcome: { status: 'requeued', final } });
    });
  }
  if (failed.length > 0) {
    await requeue(failed.map(({ email, final }) => ({ email, final })));
    logger.warn({ emails: failed.map(({ email, error }) => ({ jobId: email.eventId, kind: email.kind, err: error })) }, 'emails of a batch failed; each goes on as its own job');
  }
  return { status: 'batch', emails: outcomes };
}

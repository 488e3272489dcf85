import { Worker, type Processor } from 'bullmq';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { createMailer, type Mailer } from '../mail/mailer';
import { createRedis } from '../redis';
import { carrierOf, type EventTracing } from '../tracing/eventTracing';
import { bullPrefix, EMAIL_QUEUE, type EmailJobData } from './emailQueue';

export interface EmailWorkerOptions {
  config: Config;
  logger: Logger;
  /** What one job does (the notifications module's email job), given the worker's mailer. */
  process(data: EmailJobData, mailer: Mailer, logger: Logger): Promise<unknown>;
  concurrency?: number;
  /** How long stop() lets in-flight sends finish before abandoning them to a retry. */
  shutdownGraceMs?: number;
  /** Each job in a span continuing the trace its data carries; absent: no spans. */
  tracing?: EventTracing;
}

export interface EmailWorker {
  worker: Worker<EmailJobData, unknown>;
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
  const processor: Processor<EmailJobData, unknown> = tracing
    ? (job) =>
        tracing.continueFrom(`email send ${job.data.kind}`, carrierOf(job.data), { 'order_ledger.email.kind': job.data.kind, 'messaging.message.id': job.id ?? '' }, () =>
          options.process(job.data, mailer, logger),
        )
    : (job) => options.process(job.data, mailer, logger);
  const worker = new Worker<EmailJobData, unknown>(EMAIL_QUEUE, processor, {
    connection,
    prefix: bullPrefix(config),
    concurrency: options.concurrency ?? DEFAULT_EMAIL_CONCURRENCY,
    autorun: true,
  });
  worker.on('completed', (job, outcome) => logger.debug({ jobId: job.id, kind: job.data.kind, outcome }, 'email job done'));
  worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, kind: job?.data.kind, attempts: job?.attemptsMade, err: error.message }, 'email job failed'));
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

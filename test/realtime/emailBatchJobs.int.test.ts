import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { loadConfig, type Config } from '../../src/infra/config/config';
import { createEmailQueue, isEmailBatch, type EmailJobData, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { EmailJobAdmin } from '../../src/infra/queue/emailJobAdmin';
import { startEmailWorker, type EmailWorker } from '../../src/infra/queue/emailWorker';
import { silentLogger } from '../support/ledgerHarness';
import { deleteKeys, eventually } from '../support/realtimeHarness';

describe('email batch jobs', () => {
  let config: Config;
  let prefix: string;
  let outbox: string;
  let queue: EmailQueue;
  let worker: EmailWorker | undefined;

  beforeEach(async () => {
    prefix = `ol-test:batchjobs:${randomBytes(6).toString('hex')}:`;
    outbox = await mkdtemp(path.join(os.tmpdir(), 'ol-batchjobs-'));
    config = loadConfig({ REDIS_KEY_PREFIX: prefix, REDIS_HOST: '127.0.0.1', REDIS_PORT: '6379', MAIL_OUTBOX_DIR: outbox });
    queue = createEmailQueue(config, silentLogger);
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    await queue.close();
    await deleteKeys(prefix);
    await rm(outbox, { recursive: true, force: true });
  });

  const email = (kind = 'order-placed'): EmailJobData => ({ eventId: randomUUID(), orderId: randomUUID(), kind });

  it('when a notifier batch owes one email, then it is a plain job named by its event id; several are one job for the batch', async () => {
    const single = email();
    await queue.enqueueBatch([single]);
    const several = [email(), email('order-paid'), email()];
    await queue.enqueueBatch(several);
    const jobs = await queue.queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.id).sort()).toEqual([single.eventId, `batch-${several[0]!.eventId}`].sort());
    const batch = jobs.find((job) => isEmailBatch(job.data))!;
    expect(batch.data).toEqual({ emails: several });
    const admin = new EmailJobAdmin(config);
    try {
      const listed = await admin.list(['waiting'], 10);
      expect(listed.jobs.find((job) => job.jobId === batch.id)).toMatchObject({ kind: 'batch of 3', orderId: null });
      expect(listed.jobs.find((job) => job.jobId === single.eventId)).toMatchObject({ kind: 'order-placed', orderId: single.orderId });
    } finally {
      await admin.close();
    }
  });

  it('when emails of a batch job fail, then the others are done, each failed one goes on as its own job with the attempts left, an unrecoverable one fails alone, and the batch job completes', async () => {
    const ok = [email(), email()];
    const flaky = email();
    const broken = email('from-the-future');
    const processed: string[] = [];
    worker = startEmailWorker({
      config,
      logger: silentLogger,
      concurrency: 2,
      requeue: (failed) => queue.requeue(failed),
      async process(data) {
        processed.push(data.eventId);
        if (data.eventId === flaky.eventId) throw new Error('421 try again later');
        if (data.eventId === broken.eventId) throw new UnrecoverableError('email kind from-the-future is not one this version sends');
        return { status: 'sent', messageId: `<${data.eventId}@test>` };
      },
    });
    const all = [ok[0]!, flaky, ok[1]!, broken];
    await queue.enqueueBatch(all);
    const batchId = `batch-${all[0]!.eventId}`;
    await eventually(async () => (await queue.queue.getJobState(batchId)) === 'completed', 'the batch job to complete');
    const batch = await queue.queue.getJob(batchId);
    expect(batch?.returnvalue).toEqual({
      status: 'batch',
      emails: [
        { kind: 'order-placed', outcome: { status: 'sent', messageId: `<${ok[0]!.eventId}@test>` } },
        { kind: 'order-placed', outcome: { status: 'requeued', final: false } },
        { kind: 'order-placed', outcome: { status: 'sent', messageId: `<${ok[1]!.eventId}@test>` } },
        { kind: 'from-the-future', outcome: { status: 'requeued', final: true } },
      ],
    });
    // The flaky email waits for its second attempt (the first was the batch's), seven attempts left.
    const retried = await queue.queue.getJob(flaky.eventId);
    expect(retried?.data).toEqual(flaky);
    expect(retried?.opts).toMatchObject({ attempts: 7, delay: 2000 });
    expect(await queue.queue.getJobState(flaky.eventId)).toBe('delayed');
    // The broken one fails on its own job at once, into the failed set with its reason.
    await eventually(async () => (await queue.queue.getJobState(broken.eventId)) === 'failed', 'the unrecoverable email to fail alone');
    expect((await queue.queue.getJob(broken.eventId))?.failedReason).toContain('not one this version sends');
    expect(processed.filter((id) => id === broken.eventId)).toHaveLength(2);
    expect(processed.filter((id) => ok.some((e) => e.eventId === id))).toHaveLength(2);
  });
});

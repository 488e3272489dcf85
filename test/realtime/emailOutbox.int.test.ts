import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/infra/config/config';
import { EmailReconciler, recordEmails } from '../../src/infra/queue/emailOutbox';
import { createEmailQueue, type EmailJobData, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { createLedger, silentLogger, type Ledger } from '../support/ledgerHarness';
import { deleteKeys, eventually } from '../support/realtimeHarness';

describe('email outbox reconciler', () => {
  let ledger: Ledger;
  let queue: EmailQueue;
  let prefix: string;

  beforeEach(async () => {
    ledger = await createLedger();
    prefix = `ol-test:outbox:${randomBytes(6).toString('hex')}:`;
    // A queue with no worker: what the reconciler adds stays waiting, to be counted.
    queue = createEmailQueue(loadConfig({ REDIS_KEY_PREFIX: prefix, REDIS_HOST: '127.0.0.1', REDIS_PORT: '6379' }), silentLogger);
  });
  afterEach(async () => {
    await queue.close();
    await deleteKeys(prefix);
    await ledger.close();
  });

  const email = (): EmailJobData => ({ eventId: randomUUID(), orderId: randomUUID(), kind: 'order-placed' });
  const queuedIds = async (): Promise<string[]> => (await queue.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).map((j) => j.id!).sort();

  it('when pending emails have no job, then passes queue each of them once, page by page, and skip sent and skipped ones', async () => {
    const pending = Array.from({ length: 5 }, email);
    const sent = email();
    const skipped = email();
    await recordEmails(ledger.db.knex, [...pending, sent, skipped]);
    await ledger.db.knex('email_sends').where('event_id', sent.eventId).update({ claimed_at: ledger.db.knex.fn.now(), sent_at: ledger.db.knex.fn.now() });
    await ledger.db.knex('email_sends').where('event_id', skipped.eventId).update({ skipped_reason: 'no-recipient' });
    const reconciler = new EmailReconciler({ knex: ledger.db.knex, emails: queue, logger: silentLogger, intervalMs: 3_600_000, pageSize: 2, maxPerPass: 3 });

    // A pass looks at three rows at most; the next goes on where it stopped.
    expect(await reconciler.runOnce()).toBe(3);
    expect(await queuedIds()).toHaveLength(3);
    expect(await reconciler.runOnce()).toBe(2);
    const all = pending.map((e) => e.eventId).sort();
    expect(await queuedIds()).toEqual(all);

    // Jobs Redis still holds are not added again.
    expect(await reconciler.runOnce()).toBe(3);
    expect(await reconciler.runOnce()).toBe(2);
    expect(await queuedIds()).toEqual(all);
    const job = await queue.queue.getJob(pending[0]!.eventId);
    expect(job?.data).toEqual(pending[0]);
  });

  it('when started, then it runs a pass at once and stops cleanly', async () => {
    const pending = [email(), email()];
    await recordEmails(ledger.db.knex, pending);
    const reconciler = new EmailReconciler({ knex: ledger.db.knex, emails: queue, logger: silentLogger, intervalMs: 3_600_000 });
    reconciler.start();
    try {
      await eventually(async () => (await queuedIds()).length === 2, 'the first pass to queue both emails');
    } finally {
      await reconciler.stop();
    }
    expect(await queuedIds()).toEqual(pending.map((e) => e.eventId).sort());
  });
});

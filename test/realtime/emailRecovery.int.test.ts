import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { decodeOrderEvent, orderStreamId } from '../../src/events/codec';
import { createLogger } from '../../src/infra/logger';
import { emailKindFor } from '../../src/projections/notifications/emailTemplates';
import { createEmailQueue } from '../../src/infra/queue/emailQueue';
import { givenOrder, givenUser, type TestApp } from '../support/apiHarness';
import { createCluster, deleteKeys, eventually, sleep, startSmtpSink, type Cluster, type SmtpSink } from '../support/realtimeHarness';

const QUIET_MS = 1000;
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let cluster: Cluster;
let smtp: SmtpSink;
let app: TestApp;

beforeAll(async () => {
  smtp = await startSmtpSink();
  cluster = await createCluster('email-recovery');
  app = await cluster.start({ ROLES: 'api,projector,notifier,worker', SMTP_URL: smtp.url, EMAIL_RECONCILE_INTERVAL_MS: '300' });
});

afterAll(async () => {
  await cluster?.stop();
  await smtp?.close();
});

async function emailingEvents(orderId: string): Promise<string[]> {
  const records = await app.runtime.deps.store.readStream(orderStreamId(orderId));
  return records.filter((r) => emailKindFor(decodeOrderEvent(r).event) !== undefined).map((r) => r.id);
}

test('when Redis loses its data while emails wait to be retried, then the outbox queues them again and each is sent exactly once', async () => {
  // The SMTP server refuses everything: every job fails its first attempt and waits to be retried.
  smtp.refuseNext(1_000_000);
  const owner = await givenUser(app);
  const orderIds: string[] = [];
  for (let i = 0; i < 3; i++) orderIds.push((await givenOrder(app, owner)).id);
  await handleOrderCommand(app.runtime.deps.store, orderIds[0]!, { type: 'MarkPaid', data: { now: new Date().toISOString() } });
  const expected: string[] = [];
  for (const id of orderIds) expected.push(...(await emailingEvents(id)));
  expect(expected).toHaveLength(4);
  await eventually(() => expected.every((id) => smtp.refusedMessages.some((m) => m.eventId === id)), 'a refused attempt at every email', 20_000);

  const queue = createEmailQueue(app.runtime.config, logger);
  try {
    await eventually(async () => (await queue.queue.getDelayedCount()) === expected.length, 'every job to wait for its retry');
    // Redis loses this run's data (only this cluster's keys: other runs share the server).
    await deleteKeys(cluster.prefix);
    // Every job that had a failed attempt is gone: the reconciler (every 300 ms) may already have
    // queued some again, but only as fresh jobs with no attempt behind them.
    for (const id of expected) {
      const job = await queue.queue.getJob(id);
      expect({ id, attemptsMade: job?.attemptsMade ?? 0 }).toEqual({ id, attemptsMade: 0 });
    }
    expect(smtp.messages).toHaveLength(0);

    smtp.refuseNext(0);
    await eventually(() => expected.every((id) => smtp.messages.some((m) => m.eventId === id)), `${expected.length} emails after the loss`, 20_000);
    await sleep(QUIET_MS);
  } finally {
    await queue.close();
  }

  expect(smtp.messages.map((m) => m.eventId).sort()).toEqual([...expected].sort());
  for (const message of smtp.messages) expect(message.messageId).toBe(`<${message.eventId}@order-ledger.local>`);
  const rows = (await cluster.db.knex('email_sends').whereIn('event_id', expected).select('event_id', 'sent_at', 'message_id')) as {
    event_id: string;
    sent_at: Date | null;
    message_id: string;
  }[];
  expect(rows).toHaveLength(expected.length);
  expect(rows.every((r) => r.sent_at !== null && r.message_id === `<${r.event_id}@order-ledger.local>`)).toBe(true);
});

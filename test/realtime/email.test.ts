import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import { decodeOrderEvent, orderStreamId } from '../../src/events/codec';
import { createLogger } from '../../src/infra/logger';
import { emailKindFor, type EmailKind } from '../../src/projections/notifications/emailTemplates';
import { createEmailQueue, type EmailJobData, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { createSocketPublisher, type SocketPublisher } from '../../src/infra/socket/socketPublisher';
import { Notifier, NOTIFIER_CHECKPOINT } from '../../src/projections/notifier';
import { bearer, givenAdmin, givenOrder, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import { orderState, placeOrder, sendStripeWebhook, startPaymentsApp } from '../support/paymentsHarness';
import { createCluster, eventually, sleep, startSmtpSink, type Cluster, type SmtpSink } from '../support/realtimeHarness';

const QUIET_MS = 1000;
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let cluster: Cluster;
let smtp: SmtpSink;
let web: TestApp;
let owner: TestUser;
let admin: TestUser;
/** Every email the SMTP server should have received so far in this file: event id → kind. */
const expected = new Map<string, EmailKind>();

const now = (): string => new Date().toISOString();

async function command(orderId: string, cmd: OrderCommand, idempotencySource?: string): Promise<void> {
  await handleOrderCommand(web.runtime.deps.store, orderId, cmd, idempotencySource ? { idempotencySource } : {});
}

/** The emails an order's events call for, read back from its stream. */
async function emailsFor(orderId: string): Promise<Map<string, EmailKind>> {
  const records = await web.runtime.deps.store.readStream(orderStreamId(orderId));
  const emails = new Map<string, EmailKind>();
  for (const record of records) {
    const kind = emailKindFor(decodeOrderEvent(record).event);
    if (kind) emails.set(record.id, kind);
  }
  return emails;
}

/** Waits (bounded) for every expected email, then a quiet period, then checks each arrived exactly once. */
async function expectExactlyOneEmailEach(): Promise<void> {
  await eventually(() => [...expected.keys()].every((id) => smtp.messages.some((m) => m.eventId === id)), `${expected.size} emails`, 20_000);
  await sleep(QUIET_MS);
  const counts = new Map<string, number>();
  for (const message of smtp.messages) counts.set(message.eventId ?? '(none)', (counts.get(message.eventId ?? '(none)') ?? 0) + 1);
  expect(Object.fromEntries(counts)).toEqual(Object.fromEntries([...expected.keys()].map((id) => [id, 1])));
}

async function headPosition(): Promise<bigint> {
  const row = (await cluster.db.knex('events').max({ head: 'position' }).first()) as { head: string | null } | undefined;
  return BigInt(row?.head ?? '-1');
}

async function notifierCheckpoint(): Promise<bigint> {
  const row = (await cluster.db.knex('projection_checkpoints').where('name', NOTIFIER_CHECKPOINT).first('position')) as { position: string } | undefined;
  return BigInt(row?.position ?? '-1');
}

interface RunningNotifier {
  notifier: Notifier;
  stop(): Promise<void>;
}

/**
 * The real Notifier with its real Redis publisher and queue. `loseJobsOfBatch` drops the n-th
 * batch's jobs on the floor, as a process that died after committing that batch (checkpoint and
 * outbox rows) but before queueing its jobs would; the dropped jobs are kept in `lost`.
 */
function startNotifier(batchSize: number, loseJobsOfBatch?: number): RunningNotifier & { lost: EmailJobData[] } {
  const config = web.runtime.config;
  const publisher: SocketPublisher = createSocketPublisher(config, logger);
  const queue: EmailQueue = createEmailQueue(config, logger);
  const lost: EmailJobData[] = [];
  let batches = 0;
  const emails: Pick<EmailQueue, 'enqueueBatch'> = {
    async enqueueBatch(jobs) {
      batches += 1;
      if (batches === loseJobsOfBatch) {
        lost.push(...jobs);
        return;
      }
      await queue.enqueueBatch(jobs);
    },
  };
  const notifier = new Notifier({
    store: web.runtime.deps.store,
    knex: web.runtime.deps.knex,
    logger,
    connectionString: config.DATABASE_URL,
    publisher,
    emails,
    batchSize,
    lockRetryMs: 100,
  });
  notifier.start();
  return {
    notifier,
    lost,
    async stop() {
      await notifier.stop();
      await Promise.all([publisher.close(), queue.close()]);
    },
  };
}

/** Places an order and drives it to DELIVERED straight through the command handler. */
async function deliveredOrder(user: TestUser): Promise<string> {
  const order = await givenOrder(web, user);
  await command(order.id, { type: 'MarkPaid', data: { now: now() } });
  for (const to of ['PROCESSING', 'SHIPPED', 'DELIVERED'] as const) await command(order.id, { type: 'ChangeStatus', data: { to, now: now() } });
  return order.id;
}

beforeAll(async () => {
  smtp = await startSmtpSink();
  cluster = await createCluster('email');
  // API, projector and the email worker; notifiers come and go per test.
  web = await cluster.start({ ROLES: 'api,projector,worker', SMTP_URL: smtp.url, EMAIL_RECONCILE_INTERVAL_MS: '200' });
  owner = await givenUser(web);
  admin = await givenAdmin(web);
});

afterAll(async () => {
  await cluster?.stop();
  await smtp?.close();
});

test('when orders go through every transition that sends email, then the SMTP server receives exactly one message per transition, to the owner, in text and HTML', async () => {
  const notifierProcess = await cluster.start({ ROLES: 'notifier', SMTP_URL: smtp.url });
  try {
    const shipped = await givenOrder(web, owner);
    const paid = await web.request.post(`/orders/${shipped.id}/mark-paid`).set(bearer(admin.token));
    expect(paid.status).toBe(200);
    for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) {
      const res = await web.request.patch(`/orders/${shipped.id}/status`).set(bearer(admin.token)).send({ status });
      expect(res.status).toBe(200);
    }
    await command(shipped.id, { type: 'RecordRefund', data: { provider: 'MANUAL', amount: shipped.totalAmount, currency: shipped.currency, now: now() } });

    const failed = await givenOrder(web, owner);
    await command(failed.id, { type: 'RecordPaymentFailure', data: { provider: 'MANUAL', reason: 'card declined', now: now() } });
    const cancelled = await web.request.post(`/orders/${failed.id}/cancel`).set(bearer(owner.token)).send({ reason: 'changed my mind' });
    expect(cancelled.status).toBe(200);

    for (const id of [shipped.id, failed.id]) for (const [eventId, kind] of await emailsFor(id)) expected.set(eventId, kind);
    expect(new Set(expected.values())).toEqual(
      new Set(['order-placed', 'payment-received', 'order-shipped', 'order-delivered', 'order-refunded', 'payment-failed', 'order-cancelled']),
    );
    await expectExactlyOneEmailEach();

    for (const message of smtp.messages) {
      expect(message.to).toEqual([owner.email]);
      expect(message.raw).toMatch(/Content-Type: multipart\/alternative/i);
      expect(message.raw).toMatch(/Content-Type: text\/plain/i);
      expect(message.raw).toMatch(/Content-Type: text\/html/i);
    }
    const subjects = smtp.messages.map((m) => m.subject);
    const ref = (id: string): string => id.slice(0, 8);
    expect(subjects).toEqual(
      expect.arrayContaining([
        `Order ${ref(shipped.id)} placed`,
        `Payment received for order ${ref(shipped.id)}`,
        `Order ${ref(shipped.id)} shipped`,
        `Order ${ref(shipped.id)} delivered`,
        `Refund for order ${ref(shipped.id)}`,
        `Payment failed for order ${ref(failed.id)}`,
        `Order ${ref(failed.id)} cancelled`,
      ]),
    );
    const claims = (await cluster.db.knex('email_sends').whereNotNull('sent_at').count({ n: '*' }).first()) as { n: string };
    expect(Number(claims.n)).toBe(expected.size);
  } finally {
    await notifierProcess.stop();
  }
});

test('when the notifier dies after committing a batch but before queueing its jobs, then the outbox reconciler queues them and every email still goes out exactly once', async () => {
  const orders: string[] = [];
  for (let i = 0; i < 4; i++) orders.push(await deliveredOrder(owner));
  for (const id of orders) for (const [eventId, kind] of await emailsFor(id)) expected.set(eventId, kind);
  const head = await headPosition();

  // One event per batch; the jobs of the sixth batch that sends email never reach Redis.
  const first = startNotifier(1, 6);
  await eventually(() => first.lost.length > 0, 'the first notifier to lose a batch of jobs');
  await first.stop();
  const lostEventId = first.lost[0]!.eventId;
  const lostPosition = (await cluster.db.knex('events').where('event_id', lostEventId).first('position')) as { position: string };
  // Its checkpoint moved past the lost event: no re-delivery will bring it back.
  expect(await notifierCheckpoint()).toBeGreaterThanOrEqual(BigInt(lostPosition.position));

  const second = startNotifier(1);
  try {
    await eventually(async () => (await notifierCheckpoint()) >= head, 'the second notifier to reach the head', 20_000);
    await expectExactlyOneEmailEach();
    expect(smtp.messages.some((m) => m.eventId === lostEventId)).toBe(true);
  } finally {
    await second.stop();
  }
});

test('when every event is re-delivered after BullMQ has removed the completed jobs, then no email is sent twice', async () => {
  const queue = createEmailQueue(web.runtime.config, logger);
  type Outcome = { status: string; reason?: string };
  // Each email's outcome, whether its job carried it alone or with the rest of a notifier batch.
  const completedOutcomes = async (): Promise<Outcome[]> =>
    (await queue.queue.getCompleted(0, 100_000)).flatMap((job) => {
      const result = job.returnvalue as Outcome & { emails?: Array<{ outcome: Outcome }> };
      return result.status === 'batch' ? (result.emails ?? []).map((email) => email.outcome) : [result];
    });
  try {
    const before = smtp.messages.length;
    const removed = await queue.queue.clean(0, 100_000, 'completed');
    expect(removed.length).toBeGreaterThanOrEqual(expected.size);
    await cluster.db.knex('projection_checkpoints').where('name', NOTIFIER_CHECKPOINT).update({ position: '-1' });

    const redelivery = startNotifier(50);
    try {
      const head = await headPosition();
      await eventually(async () => (await notifierCheckpoint()) >= head, 'the re-delivery to reach the head', 20_000);
      // The jobs were really added and run again: the worker found the claims and skipped the sends.
      await eventually(async () => (await completedOutcomes()).length >= expected.size, 'the re-added jobs to complete', 20_000);
    } finally {
      await redelivery.stop();
    }
    const outcomes = await completedOutcomes();
    expect(outcomes.length).toBeGreaterThanOrEqual(expected.size);
    expect(outcomes.every((o) => o.status === 'skipped' && o.reason === 'already-claimed')).toBe(true);
    await sleep(QUIET_MS);
    expect(smtp.messages.length).toBe(before);
    await expectExactlyOneEmailEach();
  } finally {
    await queue.close();
  }
});

test('when the same Stripe webhook arrives twice, then the owner gets one payment email', async () => {
  // Its own app (database and Redis prefix) with the real Stripe SDK against the local fake, and its own SMTP server.
  const sink = await startSmtpSink();
  const payments = await startPaymentsApp({ ROLES: 'api,projector,notifier,worker', SMTP_URL: sink.url, HTTP_CLIENT_TIMEOUT_MS: '5000' });
  try {
    const buyer = await givenUser(payments.app);
    const placed = await placeOrder(payments.app, buyer, 'STRIPE');
    expect(placed.status).toBe(201);
    const { paymentReference } = await orderState(payments.app, placed.orderId);
    payments.stripe.pay(paymentReference!);
    const event = payments.stripe.intentEvent('payment_intent.succeeded', paymentReference!);
    const first = await sendStripeWebhook(payments.app, event);
    const second = await sendStripeWebhook(payments.app, event);
    expect([first.status, second.status]).toEqual([200, 200]);

    const records = await payments.app.runtime.deps.store.readStream(orderStreamId(placed.orderId));
    const emailing = records.filter((r) => emailKindFor(decodeOrderEvent(r).event)).map((r) => r.id);
    expect(records.map((r) => r.type)).toEqual(['OrderPlaced', 'PaymentInitiated', 'PaymentSucceeded']);
    await eventually(() => emailing.every((id) => sink.messages.some((m) => m.eventId === id)), 'the placed and payment emails', 20_000);
    await sleep(QUIET_MS);
    expect(sink.messages.map((m) => m.eventId).sort()).toEqual([...emailing].sort());
    expect(sink.messages.map((m) => m.subject)).toEqual(
      expect.arrayContaining([`Order ${placed.orderId.slice(0, 8)} placed`, `Payment received for order ${placed.orderId.slice(0, 8)}`]),
    );
    expect(sink.messages.every((m) => m.to.length === 1 && m.to[0] === buyer.email)).toBe(true);
  } finally {
    await payments.stop();
    await sink.close();
  }
});

test('when the SMTP server refuses a message once, then the job is retried with backoff and the message arrives exactly once', async () => {
  const running = startNotifier(50);
  try {
    const refusedBefore = smtp.refused;
    smtp.refuseNext(1);
    const order = await givenOrder(web, owner);
    for (const [eventId, kind] of await emailsFor(order.id)) expected.set(eventId, kind);
    await expectExactlyOneEmailEach();
    expect(smtp.refused).toBe(refusedBefore + 1);
    // The retry is the same message to the receiver: one Message-ID, derived from the event id.
    const [eventId] = [...(await emailsFor(order.id)).keys()];
    const refusedAttempt = smtp.refusedMessages[smtp.refusedMessages.length - 1]!;
    const delivered = smtp.messages.find((m) => m.eventId === eventId)!;
    expect(refusedAttempt.eventId).toBe(eventId);
    expect(delivered.messageId).toBe(`<${eventId}@order-ledger.local>`);
    expect(refusedAttempt.messageId).toBe(delivered.messageId);
  } finally {
    await running.stop();
  }
});

test('when no SMTP_URL is set, then the email is written as an .eml file to MAIL_OUTBOX_DIR', async () => {
  const local = await createCluster('outbox');
  try {
    const app = await local.start({ ROLES: 'api,projector,notifier,worker' });
    const user = await givenUser(app);
    const order = await givenOrder(app, user);
    let files: string[] = [];
    await eventually(async () => {
      files = (await readdir(local.outbox)).filter((f) => f.endsWith('.eml'));
      return files.length > 0;
    }, 'an .eml file in the outbox');
    await sleep(QUIET_MS);
    files = (await readdir(local.outbox)).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const eml = await readFile(path.join(local.outbox, files[0]!), 'utf8');
    expect(eml).toContain(`To: ${user.email}`);
    expect(eml).toContain(`Subject: Order ${order.id.slice(0, 8)} placed`);
  } finally {
    await local.stop();
  }
});

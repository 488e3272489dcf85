import { randomUUID } from 'node:crypto';
import { orderStreamId } from '../../src/events/codec';
import { createLogger } from '../../src/infra/logger';
import { createEmailQueue, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { givenOrder, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import { createCluster, eventually, startSmtpSink, type Cluster, type SmtpSink } from '../support/realtimeHarness';
import { parseMetrics, valueOf } from '../support/metricsText';
import { expectOneLineFailure, runCli } from './cliHarness';

/**
 * The email tooling against the real queue: an API and an email worker on one test database and
 * Redis prefix, an SMTP server on loopback that refuses sends on demand, and jobs added with one
 * attempt so a refused send lands in the failed set at once (production jobs have eight).
 */
let cluster: Cluster;
let smtp: SmtpSink;
let app: TestApp;
let owner: TestUser;
let queue: EmailQueue;
let env: Record<string, string>;

beforeAll(async () => {
  smtp = await startSmtpSink();
  cluster = await createCluster('emails-cli');
  app = await cluster.start({ ROLES: 'api,projector,worker', SMTP_URL: smtp.url });
  owner = await givenUser(app);
  queue = createEmailQueue(app.runtime.config, createLogger('silent'));
  env = { DATABASE_URL: cluster.db.url, REDIS_KEY_PREFIX: cluster.prefix };
});

afterAll(async () => {
  await queue?.close();
  await cluster?.stop();
  await smtp?.close();
});

/** Places an order and queues its placed email as one job of one attempt; returns the job (event) id and order id. */
async function queuedOrderEmail(): Promise<{ jobId: string; orderId: string }> {
  const order = await givenOrder(app, owner);
  const [placed] = await app.runtime.deps.store.readStream(orderStreamId(order.id));
  await queue.queue.add('order-placed', { eventId: placed!.id, orderId: order.id, kind: 'order-placed' }, { jobId: placed!.id, attempts: 1 });
  return { jobId: placed!.id, orderId: order.id };
}

async function failedJobs(count: number): Promise<Array<{ jobId: string; orderId: string }>> {
  const before = await queue.queue.getFailedCount();
  smtp.refuseNext(count);
  const jobs: Array<{ jobId: string; orderId: string }> = [];
  for (let i = 0; i < count; i++) jobs.push(await queuedOrderEmail());
  await eventually(async () => (await queue.queue.getFailedCount()) === before + count, `${count} failed jobs`, 15_000);
  return jobs;
}

const delivered = (jobId: string): number => smtp.messages.filter((m) => m.eventId === jobId).length;

let first: { jobId: string; orderId: string };
let second: { jobId: string; orderId: string };

test('when sends were refused until the jobs gave up, then `emails list --failed` shows each with its ids, kind, attempts and the SMTP error', async () => {
  const failed = await failedJobs(2);
  first = failed[0]!;
  second = failed[1]!;
  // The worker's process shows them on /metrics too: in the queue's failed set, counted as final failures.
  await eventually(async () => {
    const samples = parseMetrics((await app.request.get('/metrics')).text);
    return (
      valueOf(samples, 'order_ledger_queue_jobs', { queue: 'emails', state: 'failed' }) === 2 &&
      valueOf(samples, 'order_ledger_emails_failed_total', { kind: 'order-placed', final: 'true' }) === 2 &&
      valueOf(samples, 'order_ledger_emails_failed_total', { kind: 'order-placed', final: 'false' }) === undefined
    );
  }, 'the failed jobs on /metrics');

  const run = await runCli(['emails', 'list', '--failed'], env);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^JOB ID \(EVENT ID\)\s+ORDER ID\s+KIND\s+STATE\s+ATTEMPTS\s+CREATED\s+FINISHED\s+LAST ERROR$/);
  for (const job of [first, second]) {
    const row = lines.find((line) => line.startsWith(job.jobId));
    expect(row).toMatch(new RegExp(`^${job.jobId}\\s+${job.orderId}\\s+order-placed\\s+failed\\s+1/1\\s+\\S+Z\\s+\\S+Z\\s+.*try again later`));
  }
  expect(lines[lines.length - 1]).toMatch(/^2 of 2 shown \(queue: failed 2, /);

  const json = await runCli(['emails', 'list', '--failed', '--json'], env);
  const body = JSON.parse(json.stdout) as { jobs: Array<Record<string, unknown>>; counts: Record<string, number>; total: number; truncated: boolean };
  expect(body.counts.failed).toBe(2);
  expect(body).toMatchObject({ total: 2, truncated: false });
  expect(body.jobs.find((j) => j.jobId === first.jobId)).toEqual({
    jobId: first.jobId,
    orderId: first.orderId,
    kind: 'order-placed',
    state: 'failed',
    attemptsMade: 1,
    maxAttempts: 1,
    lastError: expect.stringContaining('try again later'),
    createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    processedAt: expect.stringMatching(/Z$/),
    finishedAt: expect.stringMatching(/Z$/),
  });
  // Ids only: no recipient address or message text.
  expect(json.stdout).not.toContain(owner.email);

  const page = JSON.parse((await runCli(['emails', 'list', '--failed', '--limit', '1', '--json'], env)).stdout) as { jobs: unknown[]; truncated: boolean };
  expect(page.jobs).toHaveLength(1);
  expect(page.truncated).toBe(true);
  // Without --failed the list holds every job still to do, failed ones included.
  expect((await runCli(['emails', 'list'], env)).stdout).toContain(first.jobId);
  expectOneLineFailure(await runCli(['emails', 'list', '--limit', '0'], env));
});

test('when retry names a failed job, then it goes back to the queue with fresh attempts and the email arrives once; a job that is not failed, or unknown, gets a clear message', async () => {
  const run = await runCli(['emails', 'retry', first.jobId], env);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(`retried email job ${first.jobId} (order-placed, order ${first.orderId}): waiting, 1 attempts\n`);
  await eventually(
    async () => (await queue.queue.getJob(first.jobId))?.finishedOn !== undefined && (await queue.queue.getJobState(first.jobId)) === 'completed',
    'the retried job to complete',
    15_000,
  );
  expect(delivered(first.jobId)).toBe(1);

  const again = expectOneLineFailure(await runCli(['emails', 'retry', first.jobId], env));
  expect(again).toBe(`order-ledger: email job ${first.jobId} is completed, not failed: nothing to retry`);
  const unknown = randomUUID();
  expect(expectOneLineFailure(await runCli(['emails', 'retry', unknown], env))).toMatch(new RegExp(`^order-ledger: no email job ${unknown} `));
  expect(expectOneLineFailure(await runCli(['emails', 'retry'], env))).toBe('order-ledger: give a job id or --all-failed (one of them)');
  expect(expectOneLineFailure(await runCli(['emails', 'retry', second.jobId, '--all-failed'], env))).toBe('order-ledger: give a job id or --all-failed (one of them)');
});

test('when retry --all-failed runs with a limit, then it retries that many, reports what is left, and a second run retries the rest; every email arrives once', async () => {
  const more = await failedJobs(3);
  const all = [second, ...more];
  expect(await queue.queue.getFailedCount()).toBe(4);

  const limited = await runCli(['emails', 'retry', '--all-failed', '--limit', '2'], env);
  expect(limited.code).toBe(0);
  expect(limited.stdout).toBe('retried 2 failed email job(s)\n2 job(s) still failed (beyond --limit, or failed again already)\n');

  const rest = await runCli(['emails', 'retry', '--all-failed', '--json'], env);
  expect(rest.code).toBe(0);
  expect(JSON.parse(rest.stdout)).toEqual({ retried: 2, skipped: 0, remainingFailed: 0 });
  await eventually(() => all.every((job) => delivered(job.jobId) === 1), 'every retried email', 15_000);
  expect(all.map((job) => delivered(job.jobId))).toEqual([1, 1, 1, 1]);

  const none = await runCli(['emails', 'list', '--failed'], env);
  expect(none.stdout).toMatch(/^no email jobs failed\n0 of 0 shown/);
});

test('when Redis cannot be reached, then the command fails with one line instead of waiting', async () => {
  const run = await runCli(['emails', 'list'], { ...env, REDIS_PORT: '1' });
  expect(expectOneLineFailure(run)).toMatch(/^order-ledger: .*(ECONNREFUSED|connect|Redis)/i);
});

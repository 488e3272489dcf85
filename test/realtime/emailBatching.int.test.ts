import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { createUser } from '../../src/commands/accounts/users';
import { sealOrderPersonalData } from '../../src/commands/privacy/personalData';
import { orderStreamId } from '../../src/events/codec';
import { loadConfig } from '../../src/infra/config/config';
import type { EventStore } from '../../src/infra/eventstore/eventStore';
import { createMailer, type Mailer } from '../../src/infra/mail/mailer';
import { PostgresDataKeyStore } from '../../src/infra/privacy/dataKeyStore';
import { LocalKeyWrapper } from '../../src/infra/privacy/masterKey';
import { ClaimInProgressError } from '../../src/infra/queue/emailOutbox';
import type { EmailJobData } from '../../src/infra/queue/emailQueue';
import { createEmailBatches, EMAIL_BATCHING, processEmailJob, type EmailJobDeps } from '../../src/projections/notifications/emailJob';
import { placeOrder } from '../support/orderBuilders';
import { createLedger, silentLogger, type Ledger } from '../support/ledgerHarness';
import { startSmtpSink, type SmtpSink } from '../support/realtimeHarness';

/** The real store, with every multi-stream read recorded (the ids asked for) and single-stream reads counted. */
function recordingStore(inner: EventStore): { store: EventStore; multiReads: string[][]; singleReads: () => number } {
  const multiReads: string[][] = [];
  let single = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'readStreams') {
        return (ids: readonly string[], options: { maxCount: number }) => {
          multiReads.push([...ids]);
          return target.readStreams(ids, options);
        };
      }
      if (property === 'readStream') single += 1;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, multiReads, singleReads: () => single };
}

interface Statement {
  sql: string;
  bindings: unknown[];
}

/** Every statement knex sends from now until `stop`. */
function recordStatements(knex: Knex): { statements: Statement[]; stop: () => void } {
  const statements: Statement[] = [];
  const listener = (query: { sql: string; bindings?: unknown[] }): void => {
    statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
  };
  knex.on('query', listener);
  return { statements, stop: () => knex.off('query', listener) };
}

/**
 * The real SMTP mailer, holding each outcome until `count` sends have finished: the jobs then go
 * on together, as jobs whose sends end within one batch window do.
 */
function togetherMailer(inner: Mailer, count: number): Mailer {
  let finished = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return {
    kind: inner.kind,
    close: () => inner.close(),
    async send(email) {
      const outcome = await inner.send(email).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      finished += 1;
      if (finished === count) release();
      await all;
      if ('error' in outcome) throw outcome.error;
      return outcome.result;
    },
  };
}

describe('email jobs running at once share their statements', () => {
  let ledger: Ledger;
  let smtp: SmtpSink;
  let mailer: Mailer;
  let dataKeys: PostgresDataKeyStore;
  let users: string[];

  beforeAll(async () => {
    ledger = await createLedger();
    smtp = await startSmtpSink();
    mailer = createMailer(loadConfig({ SMTP_URL: smtp.url, HTTP_CLIENT_TIMEOUT_MS: '5000' }), silentLogger);
    dataKeys = new PostgresDataKeyStore(ledger.db.knex, new LocalKeyWrapper(randomBytes(32)));
    users = [];
    for (const name of ['batch-a', 'batch-b']) {
      users.push((await createUser(ledger.db.knex, { email: `${name}@example.test`, password: 'long-enough-password', role: 'user' }, { bcryptRounds: 4 })).id);
    }
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
    await ledger.close();
  });

  /** Places an order (its contact email sealed, when given) and returns its order-placed email job. */
  async function placed(userId: string, contactEmail?: string): Promise<EmailJobData> {
    const command = placeOrder({ userId });
    const personalData = contactEmail ? await sealOrderPersonalData(dataKeys, userId, command.data.orderId, { contactEmail }) : undefined;
    await handleOrderCommand(ledger.store, command.data.orderId, { ...command, data: { ...command.data, ...(personalData ? { personalData } : {}) } });
    const [event] = await ledger.store.readStream(orderStreamId(command.data.orderId));
    return { eventId: event!.id, orderId: command.data.orderId, kind: 'order-placed' };
  }

  function depsWith(store: EventStore, sender: Mailer): EmailJobDeps {
    const knex = ledger.db.knex;
    return { knex, store, mailer: sender, logger: silentLogger, dataKeys, batches: createEmailBatches({ knex, store, dataKeys }, EMAIL_BATCHING) };
  }

  const rowsOf = async (jobs: EmailJobData[]) =>
    (await ledger.db
      .knex('email_sends')
      .whereIn(
        'event_id',
        jobs.map((j) => j.eventId),
      )
      .select('event_id', 'claimed_at', 'sent_at', 'message_id')) as Array<{ event_id: string; claimed_at: Date | null; sent_at: Date | null; message_id: string | null }>;
  const matching = (statements: Statement[], pattern: RegExp) => statements.filter((s) => pattern.test(s.sql));

  it('when six jobs run at once, then their stream reads, recipients, data keys, claims and sent marks go as one statement each, and every email is sent once to its contact address', async () => {
    const jobs: EmailJobData[] = [];
    for (let i = 0; i < 6; i++) jobs.push(await placed(users[i % 2]!, `contact-${i}@example.test`));
    const recording = recordingStore(ledger.store);
    const deps = depsWith(recording.store, togetherMailer(mailer, jobs.length));
    const { statements, stop } = recordStatements(ledger.db.knex);

    const outcomes = await Promise.all(jobs.map((job) => processEmailJob(deps, job))).finally(stop);

    expect(outcomes.map((o) => o.status)).toEqual(Array(6).fill('sent'));
    expect(recording.multiReads).toHaveLength(1);
    expect([...recording.multiReads[0]!].sort()).toEqual(jobs.map((j) => orderStreamId(j.orderId)).sort());
    expect(recording.singleReads()).toBe(0);
    const recipients = matching(statements, /from "users"/);
    expect(recipients).toHaveLength(1);
    expect([...recipients[0]!.bindings].sort()).toEqual([...users].sort());
    expect(matching(statements, /from "customer_data_keys"/)).toHaveLength(1);
    const claims = matching(statements, /^insert into email_sends/);
    expect(claims).toHaveLength(1);
    expect([...(claims[0]!.bindings[0] as string[])].sort()).toEqual(jobs.map((j) => j.eventId).sort());
    expect(matching(statements, /^update email_sends as s set sent_at/)).toHaveLength(1);
    expect(matching(statements, /email_sends/)).toHaveLength(2);

    const rows = await rowsOf(jobs);
    expect(rows.filter((r) => r.sent_at !== null)).toHaveLength(6);
    for (const [i, job] of jobs.entries()) {
      const sent = smtp.messages.filter((m) => m.eventId === job.eventId);
      expect(sent.map((m) => m.to)).toEqual([[`contact-${i}@example.test`]]);
      expect(rows.find((r) => r.event_id === job.eventId)?.message_id).toBe(sent[0]!.messageId);
    }
  });

  it('when one send of a batch is refused, then only its claim is released, the others are marked sent in one statement, and its retry sends it', async () => {
    const jobs: EmailJobData[] = [];
    for (let i = 0; i < 5; i++) jobs.push(await placed(users[i % 2]!));
    const deps = depsWith(ledger.store, togetherMailer(mailer, jobs.length));
    const refusedBefore = smtp.refused;
    smtp.refuseNext(1);
    const { statements, stop } = recordStatements(ledger.db.knex);

    const settled = await Promise.allSettled(jobs.map((job) => processEmailJob(deps, job))).finally(stop);

    expect(smtp.refused).toBe(refusedBefore + 1);
    const failed = jobs.filter((_, i) => settled[i]!.status === 'rejected');
    expect(failed.map((j) => j.eventId)).toEqual([smtp.refusedMessages[smtp.refusedMessages.length - 1]!.eventId]);
    const releases = matching(statements, /^update "email_sends" set "claimed_at"/);
    expect(releases.map((s) => s.bindings.filter((b) => typeof b === 'string'))).toEqual([[failed[0]!.eventId]]);
    const marks = matching(statements, /^update email_sends as s set sent_at/);
    expect(marks).toHaveLength(1);
    expect([...(marks[0]!.bindings[0] as string[])].sort()).toEqual(
      jobs
        .filter((j) => j !== failed[0])
        .map((j) => j.eventId)
        .sort(),
    );
    const rows = await rowsOf(jobs);
    for (const row of rows) {
      if (row.event_id === failed[0]!.eventId) expect(row).toMatchObject({ claimed_at: null, sent_at: null });
      else expect(row.sent_at).not.toBeNull();
    }

    expect(await processEmailJob(depsWith(ledger.store, mailer), failed[0]!)).toMatchObject({ status: 'sent' });
    expect(smtp.messages.filter((m) => m.eventId === failed[0]!.eventId)).toHaveLength(1);
  });

  it('when another worker holds a live claim on one email of a batch, then only that job waits for a retry and the others are sent', async () => {
    const jobs: EmailJobData[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await placed(users[0]!));
    const held = jobs[1]!;
    await ledger.db.knex('email_sends').insert({ event_id: held.eventId, order_id: held.orderId, template: held.kind, claimed_at: ledger.db.knex.fn.now() });
    const deps = depsWith(ledger.store, togetherMailer(mailer, jobs.length - 1));

    const settled = await Promise.allSettled(jobs.map((job) => processEmailJob(deps, job)));

    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(ClaimInProgressError);
    expect(smtp.messages.filter((m) => m.eventId === held.eventId)).toHaveLength(0);
    const rows = await rowsOf(jobs);
    expect(
      rows
        .filter((r) => r.sent_at !== null)
        .map((r) => r.event_id)
        .sort(),
    ).toEqual([jobs[0]!.eventId, jobs[2]!.eventId].sort());
  });
});

import { randomBytes } from 'node:crypto';
import { PostgresDataKeyStore } from '../../src/infra/privacy/dataKeyStore';
import { LocalKeyWrapper } from '../../src/infra/privacy/masterKey';
import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { orderStreamId } from '../../src/events/codec';
import { loadConfig } from '../../src/infra/config/config';
import { createMailer, type Mailer } from '../../src/infra/mail/mailer';
import { pendingEmails, recordEmails } from '../../src/infra/queue/emailOutbox';
import { ClaimInProgressError, CLAIM_LEASE_SECONDS } from '../../src/infra/queue/emailOutbox';
import { processEmailJob } from '../../src/projections/notifications/emailJob';
import { createUser } from '../../src/commands/accounts/users';
import { placeOrder } from '../support/orderBuilders';
import { createLedger, silentLogger, type Ledger } from '../support/ledgerHarness';
import { startSmtpSink, type SmtpSink } from '../support/realtimeHarness';

describe('email send claims', () => {
  let ledger: Ledger;
  let smtp: SmtpSink;
  let mailer: Mailer;
  let userId: string;

  beforeAll(async () => {
    ledger = await createLedger();
    smtp = await startSmtpSink();
    mailer = createMailer(loadConfig({ SMTP_URL: smtp.url, HTTP_CLIENT_TIMEOUT_MS: '5000' }), silentLogger);
    userId = (await createUser(ledger.db.knex, { email: 'claims@example.test', password: 'long-enough-password', role: 'user' }, { bcryptRounds: 4 })).id;
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
    await ledger.close();
  });

  async function placedEvent(): Promise<{ orderId: string; eventId: string }> {
    const command = placeOrder({ userId });
    await handleOrderCommand(ledger.store, command.data.orderId, command);
    const [placed] = await ledger.store.readStream(orderStreamId(command.data.orderId));
    return { orderId: command.data.orderId, eventId: placed!.id };
  }

  const deps = () => ({
    knex: ledger.db.knex,
    store: ledger.store,
    mailer,
    logger: silentLogger,
    dataKeys: new PostgresDataKeyStore(ledger.db.knex, new LocalKeyWrapper(randomBytes(32))),
  });
  const sentFor = (eventId: string) => smtp.messages.filter((m) => m.eventId === eventId).length;

  it('when a worker died after claiming and the lease has run out, then the next delivery sends the email once', async () => {
    const { orderId, eventId } = await placedEvent();
    await ledger.db.knex('email_sends').insert({
      event_id: eventId,
      order_id: orderId,
      template: 'order-placed',
      claimed_at: ledger.db.knex.raw(`now() - interval '${CLAIM_LEASE_SECONDS + 5} seconds'`),
    });
    const outcome = await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' });
    expect(outcome.status).toBe('sent');
    expect(sentFor(eventId)).toBe(1);
    const again = await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' });
    expect(again).toEqual({ status: 'skipped', reason: 'already-claimed' });
    expect(sentFor(eventId)).toBe(1);
  });

  it('when another worker holds a live claim, then the job fails to be retried later and nothing is sent now', async () => {
    const { orderId, eventId } = await placedEvent();
    await ledger.db.knex('email_sends').insert({ event_id: eventId, order_id: orderId, template: 'order-placed', claimed_at: ledger.db.knex.fn.now() });
    await expect(processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).rejects.toBeInstanceOf(ClaimInProgressError);
    expect(sentFor(eventId)).toBe(0);
  });

  it('when the notifier recorded the email in the outbox, then the first delivery claims that row and sends once', async () => {
    const { orderId, eventId } = await placedEvent();
    await recordEmails(ledger.db.knex, [{ eventId, orderId, kind: 'order-placed' }]);
    expect((await pendingEmails(ledger.db.knex, undefined, 1000)).emails).toContainEqual({ eventId, orderId, kind: 'order-placed' });
    expect((await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).status).toBe('sent');
    expect(sentFor(eventId)).toBe(1);
    expect((await pendingEmails(ledger.db.knex, undefined, 1000)).emails.map((e) => e.eventId)).not.toContain(eventId);
  });

  it('when the SMTP server refuses the message, then the claim is released and the email stays pending in the outbox', async () => {
    const { orderId, eventId } = await placedEvent();
    smtp.refuseNext(1);
    await expect(processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).rejects.toThrow();
    const row = (await ledger.db.knex('email_sends').where({ event_id: eventId }).first('claimed_at', 'sent_at')) as { claimed_at: Date | null; sent_at: Date | null };
    expect(row).toEqual({ claimed_at: null, sent_at: null });
    expect((await pendingEmails(ledger.db.knex, undefined, 1000)).emails.map((e) => e.eventId)).toContain(eventId);
    expect((await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).status).toBe('sent');
    expect(sentFor(eventId)).toBe(1);
  });

  it('when the order owner has no user row, then the email is settled as skipped and no longer pending', async () => {
    const command = placeOrder({ userId: randomUUID() });
    await handleOrderCommand(ledger.store, command.data.orderId, command);
    const [placed] = await ledger.store.readStream(orderStreamId(command.data.orderId));
    const data = { eventId: placed!.id, orderId: command.data.orderId, kind: 'order-placed' as const };
    await recordEmails(ledger.db.knex, [data]);
    expect(await processEmailJob(deps(), data)).toEqual({ status: 'skipped', reason: 'no-recipient' });
    expect((await pendingEmails(ledger.db.knex, undefined, 1000)).emails.map((e) => e.eventId)).not.toContain(data.eventId);
  });

  it('when a worker died after the SMTP server accepted the message but before recording it, then the email is sent again with the same Message-ID', async () => {
    const { orderId, eventId } = await placedEvent();
    expect((await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).status).toBe('sent');
    // What the row looks like when the process died right after the SMTP server's 250.
    await ledger.db
      .knex('email_sends')
      .where({ event_id: eventId })
      .update({ sent_at: null, message_id: null, claimed_at: ledger.db.knex.raw(`now() - interval '${CLAIM_LEASE_SECONDS + 5} seconds'`) });
    expect((await processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).status).toBe('sent');

    const copies = smtp.messages.filter((m) => m.eventId === eventId);
    expect(copies).toHaveLength(2);
    expect(copies.map((m) => m.messageId)).toEqual([`<${eventId}@order-ledger.local>`, `<${eventId}@order-ledger.local>`]);
    const row = (await ledger.db.knex('email_sends').where({ event_id: eventId }).first('message_id')) as { message_id: string };
    expect(row.message_id).toBe(`<${eventId}@order-ledger.local>`);
  });
});

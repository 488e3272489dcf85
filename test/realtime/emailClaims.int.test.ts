import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { orderStreamId } from '../../src/events/codec';
import { loadConfig } from '../../src/infra/config/config';
import { createMailer, type Mailer } from '../../src/infra/mail/mailer';
import { ClaimInProgressError, CLAIM_LEASE_SECONDS, processEmailJob } from '../../src/infra/queue/emailWorker';
import { createUser } from '../../src/infra/users';
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

  const deps = () => ({ knex: ledger.db.knex, store: ledger.store, mailer, logger: silentLogger });
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
    await ledger.db.knex('email_sends').insert({ event_id: eventId, order_id: orderId, template: 'order-placed' });
    await expect(processEmailJob(deps(), { eventId, orderId, kind: 'order-placed' })).rejects.toBeInstanceOf(ClaimInProgressError);
    expect(sentFor(eventId)).toBe(0);
  });
});

import nodemailer from 'nodemailer';
import { loadConfig } from '../../src/infra/config/config';
import { createMailer, messageFields, messageIdFor, type OutgoingEmail } from '../../src/infra/mail/mailer';
import { silentLogger } from '../support/ledgerHarness';
import { startSmtpSink, type SmtpSink } from '../support/realtimeHarness';

describe('SMTP mailer (SMTP_URL set)', () => {
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await startSmtpSink();
  });
  afterAll(async () => {
    await smtp.close();
  });

  // Each build draws its own MIME boundary and stamps its own Date.
  const comparable = (raw: string): string => raw.replace(/--_NmP-[0-9a-f]+-Part_\d+/g, 'BOUNDARY').replace(/^Date: .*$/m, 'Date: D');

  const emails: Array<[string, OutgoingEmail]> = [
    [
      'ASCII lines (7bit, Unix newlines, a line starting with a dot)',
      {
        subject: 'Order placed',
        text: 'Thank you\n\n.5 items\n  Total: 39.98\n',
        html: '<p>Thank you</p>\n<p>.5 items</p>',
        to: 'zoe@example.test',
        eventId: '00000000-0000-4000-8000-0000000000b1',
      },
    ],
    [
      'non-ASCII subject, name, body and an IDN domain',
      {
        subject: 'Your order — 2 items',
        text: 'Total: 39,98 € — thank you',
        html: `<p>Total: <b>39,98 €</b></p>${'<p>Merci — à bientôt</p>'.repeat(8)}`,
        to: 'Zoë <zoe@jõgeva.ee>',
        eventId: '00000000-0000-4000-8000-0000000000b2',
      },
    ],
  ];

  it.each(emails)(
    'when it sends an email with %s, then the server receives what nodemailer sends for the same fields, from the same envelope, with CRLF line breaks',
    async (_name, email) => {
      const config = loadConfig({ SMTP_URL: smtp.url, MAIL_FROM: 'Order Ledger <orders@shop.example>', HTTP_CLIENT_TIMEOUT_MS: '5000' });
      const mailer = createMailer(config, silentLogger);
      const reference = nodemailer.createTransport({ url: smtp.url });
      try {
        const result = await mailer.send(email);
        await reference.sendMail(messageFields(config, email));
        const [ours, theirs] = smtp.messages.filter((m) => m.eventId === email.eventId);
        expect(ours && theirs).toBeDefined();
        expect(comparable(ours!.raw)).toBe(comparable(theirs!.raw));
        expect({ from: ours!.from, to: ours!.to }).toEqual({ from: theirs!.from, to: theirs!.to });
        expect(ours!.from).toBe('orders@shop.example');
        expect(ours!.raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        expect(result.messageId).toBe(messageIdFor(email.eventId, config.MAIL_FROM));
        expect(ours!.messageId).toBe(result.messageId);
      } finally {
        mailer.close();
        reference.close();
      }
    },
  );
});

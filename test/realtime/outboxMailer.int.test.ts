import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/infra/config/config';
import { createMailer, messageIdFor } from '../../src/infra/mail/mailer';
import { silentLogger } from '../support/ledgerHarness';

const email = (eventId: string) => ({ subject: 'Order placed', text: 'hello', html: '<p>hello</p>', to: 'outbox@example.test', eventId });

describe('outbox mailer (no SMTP_URL)', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'ol-outbox-'));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  const messages = [
    { subject: 'Your order — 2 items', text: 'Total: 39,98 € — thank you', html: '<p>Total: <b>39,98 €</b></p>', to: 'Zoë <zoe@example.test>' },
    {
      subject: `ご注文ありがとうございます ${'— very long subject '.repeat(6)}`,
      text: `ご注文ありがとうございます。\n合計：３９８０円\n${'trailing spaces  \n'.repeat(3)}${'x'.repeat(1200)}\n.dot\n=equals`,
      html: `<p>${'Merci — à bientôt, 19,99 € '.repeat(20)}</p>\n<p>.</p>\t`,
      to: '"Doe, John" <jd@jõgeva.ee>',
    },
  ];
  it.each(messages)(
    'when it writes an email, then the file holds the message an SMTP transport would send (Unix newlines), and the Message-ID comes from the event id',
    async (message) => {
      const outbox = path.join(parent, 'same-message');
      const config = loadConfig({ MAIL_OUTBOX_DIR: outbox, MAIL_FROM: 'Order Ledger <orders@shop.example>' });
      const mailer = createMailer(config, silentLogger);
      const eventId = '00000000-0000-4000-8000-0000000000aa';
      const sent = { ...message, eventId };
      try {
        const result = await mailer.send(sent);
        const written = await readFile(result.file!, 'utf8');
        const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
        const reference = await transport.sendMail({
          from: config.MAIL_FROM,
          to: sent.to,
          subject: sent.subject,
          text: sent.text,
          html: sent.html,
          messageId: messageIdFor(eventId, config.MAIL_FROM),
          headers: { 'X-Order-Ledger-Event-Id': eventId },
        });
        // Each build draws its own MIME boundary and stamps its own Date.
        const comparable = (raw: string): string => raw.replace(/--_NmP-[0-9a-f]+-Part_\d+/g, 'BOUNDARY').replace(/^Date: .*$/m, 'Date: D');
        expect(comparable(written)).toBe(comparable((reference.message as Buffer).toString('utf8')));
        expect(written).not.toContain('\r');
        expect(result.messageId).toBe(messageIdFor(eventId, config.MAIL_FROM));
        expect(written).toContain(`Message-ID: ${messageIdFor(eventId, config.MAIL_FROM)}`);
      } finally {
        mailer.close();
      }
    },
  );

  it('when its directory is missing at the first send or removed later, then it makes it and the .eml file is written', async () => {
    const outbox = path.join(parent, 'nested', 'outbox');
    const mailer = createMailer(loadConfig({ MAIL_OUTBOX_DIR: outbox }), silentLogger);
    try {
      const first = await mailer.send(email('00000000-0000-4000-8000-000000000001'));
      expect(first.file && path.dirname(first.file)).toBe(outbox);
      await rm(outbox, { recursive: true });
      await expect(stat(outbox)).rejects.toMatchObject({ code: 'ENOENT' });

      const second = await mailer.send(email('00000000-0000-4000-8000-000000000002'));
      const third = await mailer.send(email('00000000-0000-4000-8000-000000000003'));
      expect((await readdir(outbox)).sort()).toEqual([second.file, third.file].map((f) => path.basename(f!)).sort());
    } finally {
      mailer.close();
    }
  });
});

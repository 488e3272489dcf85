import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import MailComposer, { type MailComposerOptions } from 'nodemailer/lib/mail-composer';
import { composeMessage } from '../../src/infra/mail/composeMessage';
import { serializeMessage } from '../../src/infra/mail/serializeMessage';
import { renderEmail, type EmailKind } from '../../src/projections/notifications/emailTemplates';

const eventId = '3f2a1b2c-1111-4222-8333-444455556666';

/** The fields the mailer passes, with the given parts replaced. */
function fields(overrides: MailComposerOptions = {}): MailComposerOptions {
  return {
    from: 'Order Ledger <orders@shop.example>',
    to: 'zoe@example.test',
    subject: 'Order 3f2a1b2c placed',
    text: 'Thank you for your order',
    html: '<p>Thank you for your order</p>',
    messageId: `<${eventId}@shop.example>`,
    headers: { 'X-Order-Ledger-Event-Id': eventId },
    ...overrides,
  };
}

/** One compiled tree: serialized first (as the mailer does), then built by nodemailer's streams. */
async function serializedAndBuilt(mail: MailComposerOptions): Promise<{ serialized: Buffer | undefined; built: Buffer }> {
  const node = new MailComposer(mail).compile();
  const text = serializeMessage(node);
  return { serialized: text === undefined ? undefined : Buffer.from(text, 'utf8'), built: await node.build() };
}

const encodingsSeen = new Set<string>();
async function expectSameBytesAsBuild(mail: MailComposerOptions): Promise<void> {
  const { serialized, built } = await serializedAndBuilt(mail);
  expect(serialized?.toString('utf8')).toBe(built.toString('utf8'));
  expect(serialized?.equals(built)).toBe(true);
  for (const match of built.toString('latin1').matchAll(/^Content-Transfer-Encoding: (\S+)/gm)) encodingsSeen.add(match[1]!);
}

const long = (n: number, unit = 'x'): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);

describe('serializeMessage: the bytes of build(), without its streams', () => {
  const cases: Array<[string, MailComposerOptions]> = [
    ['ASCII only', fields()],
    ['non-ASCII subject', fields({ subject: 'Your order — 2 items, 39,98 € 🎉' })],
    ['non-ASCII display names', fields({ from: 'Bücher & Söhne <orders@shop.example>', to: 'Zoë Ünïcødé 山田 <zoe@example.test>' })],
    ['display names that need quoting', fields({ from: '"Shop, Inc." <orders@shop.example>', to: 'Doe; John (the buyer) <jd@example.test>' })],
    ['IDN recipient and a quoted local part', fields({ to: '"john doe"@jõgeva.ee' })],
    ['accented Latin body (quoted-printable)', fields({ text: 'Total: 39,98 € — merci, à bientôt, Zoë', html: '<p>Total: <b>39,98 €</b> — merci</p>' })],
    ['CJK body (base64)', fields({ text: 'ご注文ありがとうございます。合計：３９８０円。漢字かなカナ。', html: '<p>ご注文ありがとうございます</p>' })],
    ['emoji body', fields({ text: '📦🚚✅ shipped 🎉🎉🎉', html: '<p>📦🚚✅</p>' })],
    ['a line longer than 76 (ASCII)', fields({ text: long(77), html: `<p>${long(200, 'abc def ')}</p>` })],
    ['a line longer than 998', fields({ text: long(1500, 'word '), html: long(2000) })],
    ['a long non-ASCII line', fields({ text: long(400, 'é'), html: long(300, 'ab€ ') })],
    ['exactly 76 and 75 characters', fields({ text: `${long(76)}\n${long(75)}`, html: long(76) })],
    ['lines ending in spaces and tabs', fields({ text: 'trailing space \nand tab\t\nboth \t\nend  ', html: '<p>x</p> \t' })],
    ['ending in whitespace after non-ASCII', fields({ text: `€ ${long(74)}   `, html: 'é\t' })],
    ['only whitespace', fields({ text: '   \t ', html: ' ' })],
    ['= and . at line starts', fields({ text: '=\n.\n..\n=3D\n.end\n= =\n', html: '.<p>\n=</p>' })],
    ['= and . at line starts, non-ASCII', fields({ text: 'é\n=\n.\n=C3=A9\n.', html: '€\n.\n=' })],
    ['CRLF line breaks', fields({ text: 'one\r\ntwo\r\n\r\nthree\r\n', html: '<p>one</p>\r\n<p>two</p>' })],
    ['LF line breaks', fields({ text: 'one\ntwo\n\nthree\n', html: '<p>one</p>\n<p>two</p>\n' })],
    ['lone CR line breaks', fields({ text: 'one\rtwo\r', html: 'a\rb' })],
    ['mixed line breaks with non-ASCII', fields({ text: 'é\r\nè\nê\rë\n\r', html: '€\r\n€\n' })],
    ['control characters', fields({ subject: 'bell\u0007 esc\u001b', text: 'nul\u0000 del\u007f vt\u000b', html: 'ff\u000c' })],
    ['a lone surrogate', fields({ subject: 'x\uD800y', text: 'a\uD800b', html: '\uDC00' })],
    ['a single part ending in CR', fields({ text: 'one\rtwo\r', html: '' })],
    ['a single part ending in LF', fields({ text: 'one\ntwo\n', html: '' })],
    ['empty text: html alone', fields({ text: '' })],
    ['empty html: text alone', fields({ html: '' })],
    ['empty text and html', fields({ text: '', html: '' })],
    ['empty non-ASCII-free subject', fields({ subject: '' })],
    ['very long subject', fields({ subject: long(500, 'Order placed — thank you ') })],
    ['very long non-ASCII subject', fields({ subject: long(300, 'Zoë’s ordër ') })],
    ['many lines', fields({ text: Array.from({ length: 2000 }, (_, i) => `line ${i} é`).join('\n'), html: Array.from({ length: 500 }, (_, i) => `<li>${i}</li>`).join('\n') })],
    [
      'HTML with non-ASCII and long lines',
      fields({ html: `<!doctype html><html><body style="font-family:sans-serif"><h1>Merci</h1><p>${long(300, '2 × Widget — 19,99 € ')}</p></body></html>` }),
    ],
    ['a body just under the 64 KiB part limit', fields({ text: long(55_000, 'abc é '), html: long(64 * 1024 - 1) })],
  ];

  it.each(cases)('when the email has %s, then it is the same bytes as build()', async (_name, mail) => {
    await expectSameBytesAsBuild(mail);
  });

  const kinds: EmailKind[] = ['order-placed', 'payment-received', 'order-shipped', 'order-cancelled'];
  it.each(kinds)('when the email is a rendered %s email, then it is the same bytes as build()', async (kind) => {
    const rendered = renderEmail(kind, {
      orderId: eventId,
      items: [{ productId: eventId, sku: 'SKU-1', name: 'Café crème — 250 g', quantity: 2, unitAmount: 1999, lineAmount: 3998 }],
      totalAmount: 3998,
      currency: 'EUR',
      event: { type: 'OrderCancelled', data: { orderId: eventId, from: 'PENDING', reason: 'changed my mind', cancelledAt: '2026-01-01T00:00:00.000Z' } },
      shippingAddress: { name: 'Zoë Ünïcødé', line1: '12 Rue de l’Église', city: 'Zürich', postalCode: '8001', country: 'CH' },
    });
    await expectSameBytesAsBuild(fields(rendered));
  });

  const fragments = [
    'a',
    'Order',
    ' ',
    '  ',
    '\t',
    '=',
    '.',
    ',',
    ';',
    '"',
    '<b>',
    '\r\n',
    '\n',
    '\r',
    '=\n',
    '.\n',
    ' \n',
    '\t\r\n',
    'é',
    '€',
    'ü',
    '—',
    '😀',
    '漢字',
    'ご注文',
    long(80),
    long(200, 'ab '),
    long(1000),
  ];
  const piece = fc.oneof(fc.constantFrom(...fragments), fc.string({ unit: 'binary', maxLength: 12 }));
  const text = (maxLength: number) => fc.array(piece, { maxLength }).map((parts) => parts.join(''));
  const name = fc.oneof(fc.constant(''), text(5));

  it('when subject, names and bodies are generated (fixed seed), then every email is the same bytes as build()', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ subject: text(12), fromName: name, toName: name, text: text(60), html: text(60) }), async (generated) => {
        const mail = fields({
          subject: generated.subject,
          from: { name: generated.fromName, address: 'orders@shop.example' },
          to: { name: generated.toName, address: 'zoe@example.test' },
          text: generated.text,
          html: generated.html,
        });
        const { serialized, built } = await serializedAndBuilt(mail);
        expect(serialized?.toString('latin1')).toBe(built.toString('latin1'));
      }),
      { seed: 19, numRuns: 600, endOnFailure: true },
    );
  });

  it('then the cases above cover every transfer encoding our emails use', () => {
    expect([...encodingsSeen].sort()).toEqual(['7bit', 'base64', 'quoted-printable']);
  });
});

describe('serializeMessage: what it leaves to build()', () => {
  const refused: Array<[string, MailComposerOptions]> = [
    ['a string attachment', fields({ attachments: [{ filename: 'note.txt', content: 'hello' }] })],
    ['a Buffer attachment', fields({ attachments: [{ filename: 'a.bin', content: Buffer.from([1, 2, 3]) }] })],
    ['a file attachment', fields({ attachments: [{ path: __filename }] })],
    ['a Buffer body', fields({ text: Buffer.from('hello') })],
    ['a raw message', { raw: 'Subject: hi\r\n\r\nhello\r\n' }],
    ['a newline conversion', fields({ newline: 'unix' })],
    ['a part over 64 KiB', fields({ text: long(64 * 1024 + 1) })],
    ['a multi-byte part over 64 KiB', fields({ html: long(22_000, '€') })],
  ];

  it.each(refused)('when the email has %s, then it refuses, and composeMessage gives the bytes of build()', async (_name, mail) => {
    expect(serializeMessage(new MailComposer(mail).compile())).toBeUndefined();
    // A fixed Date and boundary make two compilations of the same fields the same message.
    const fixed = { ...mail, date: new Date('2026-01-02T03:04:05Z'), baseBoundary: 'fixed' };
    const composed = await composeMessage(fixed);
    expect(composed.message).toBe((await new MailComposer(fixed).compile().build()).toString('utf8'));
  });

  it('when a body is a stream, then it refuses', () => {
    const stream = new PassThrough();
    expect(serializeMessage(new MailComposer(fields({ text: stream })).compile())).toBeUndefined();
    stream.destroy();
  });
});

describe('composeMessage', () => {
  it('when it composes, then the Message-ID is the one given and the message is what build() gives for the same fields', async () => {
    const mail = fields({ subject: 'Zoë’s order', to: 'Zoë <zoe@jõgeva.ee>', date: new Date('2026-01-02T03:04:05Z'), baseBoundary: 'fixed' });
    const composed = await composeMessage(mail);
    expect(composed.messageId).toBe(`<${eventId}@shop.example>`);
    expect(composed.message).toBe((await new MailComposer(mail).compile().build()).toString('utf8'));
  });

  it.each(['zoe@example.test', 'Zoë <zoe@jõgeva.ee>', '"john doe"@example.com', 'Ünï <üser@example.com>', '"Doe, John" <jd@example.com>', 'x <a@[127.0.0.1]>'])(
    'when the recipient is %s, then the envelope an SMTP transport gets with the raw message is the one it derives from the headers',
    async (to) => {
      const mail = fields({ to, from: 'Order Ledger <orders@bücher.example>' });
      const composed = await composeMessage(mail);
      const sentRaw = new MailComposer({ raw: composed.message, envelope: composed.envelope() }).compile().getEnvelope();
      expect(sentRaw).toEqual(new MailComposer(mail).compile().getEnvelope());
      expect(sentRaw.to).toHaveLength(1);
    },
  );
});

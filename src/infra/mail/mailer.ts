import { writeFile } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import type { MailComposerOptions } from 'nodemailer/lib/mail-composer';
import type { Config } from '../config/config';
import type { Logger } from '../logger';
import { senderDomain } from './address';
import { composeMessage } from './composeMessage';

/**
 * The callback `fs.writeFile`, not `fs/promises`: open, write and close are the same three
 * thread-pool trips, without a FileHandle and a promise around each (bench figure 11b measures
 * both). Not `writeFileSync`, although it costs the least CPU (on the 2-core VM of 2026-11-26:
 * ~200 µs per 1.6 KB file against 450–680 µs through the thread pool, whose wake-ups cost more than
 * the system calls): every role can share this process, and creating a file in an outbox holding
 * thousands took up to a millisecond there, all of it holding the API, the projector and the
 * socket pushes (tried: the end-to-end push p99 and the POST p99 got no better, see the note).
 */
const writeOutboxFile = promisify(writeFile);

export interface OutgoingEmail {
  subject: string;
  text: string;
  html: string;
  to: string;
  /** Becomes a header so a message can be traced back to the event that caused it. */
  eventId: string;
}

export interface SendResult {
  messageId: string;
  /** Where the .eml file went, when no SMTP server is configured. */
  file?: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(email: OutgoingEmail): Promise<SendResult>;
  close(): void;
}

/**
 * `<event id@sender's domain>`: every attempt at one event's email carries the same Message-ID,
 * so a receiver can drop the copy sent again after a crash between acceptance and `sent_at`.
 */
export function messageIdFor(eventId: string, mailFrom: string): string {
  return `<${eventId}@${senderDomain(mailFrom) ?? 'order-ledger'}>`;
}

/** The fields nodemailer composes an email from. */
export function messageFields(config: Config, email: OutgoingEmail): MailComposerOptions {
  return {
    from: config.MAIL_FROM,
    to: email.to,
    subject: email.subject,
    text: email.text,
    html: email.html,
    messageId: messageIdFor(email.eventId, config.MAIL_FROM),
    headers: { 'X-Order-Ledger-Event-Id': email.eventId },
    // Otherwise every MIME node draws its own random boundary base (a randomBytes call each); the
    // event id is unique per message, and the delimiter around it (--_NmP-…-Part_n) is not
    // something a part's encoded content can contain.
    baseBoundary: email.eventId.replace(/-/g, ''),
  };
}

/** SMTP_URL selects an SMTP server; without it every email becomes an .eml file in MAIL_OUTBOX_DIR. */
export function createMailer(config: Config, logger: Logger): Mailer {
  const timeoutMs = config.HTTP_CLIENT_TIMEOUT_MS;
  if (config.SMTP_URL) {
    const transport = nodemailer.createTransport({
      url: config.SMTP_URL,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs * 3,
    });
    return {
      kind: 'smtp',
      async send(email) {
        // Built here as for the outbox, and handed over as it is: the transport streams it and
        // adds nothing (the envelope is the one it would derive from the same headers).
        const composed = await composeMessage(messageFields(config, email));
        await transport.sendMail({ envelope: composed.envelope(), raw: composed.message });
        return { messageId: composed.messageId };
      },
      close: () => transport.close(),
    };
  }

  const outbox = path.resolve(config.MAIL_OUTBOX_DIR);
  logger.info({ outbox }, 'SMTP_URL is not set: emails are written as .eml files');
  // Made once, and again when a write finds it gone (someone removed it while we run).
  let outboxReady: Promise<unknown> | undefined;
  const ensureOutbox = (): Promise<unknown> => {
    outboxReady ??= mkdir(outbox, { recursive: true }).catch((error: unknown) => {
      outboxReady = undefined;
      throw error;
    });
    return outboxReady;
  };
  return {
    kind: 'outbox',
    async send(email) {
      const composed = await composeMessage(messageFields(config, email));
      // What an SMTP transport would send, as a file's bytes: Unix newlines.
      const bytes = Buffer.from(composed.message.replace(/\r\n/g, '\n'), 'utf8');
      await ensureOutbox();
      const file = path.join(outbox, `${new Date().toISOString().replace(/[:.]/g, '-')}-${email.eventId}.eml`);
      try {
        await writeOutboxFile(file, bytes);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        outboxReady = undefined;
        await ensureOutbox();
        await writeOutboxFile(file, bytes);
      }
      logger.info({ file, eventId: email.eventId }, 'email written to the outbox');
      return { messageId: composed.messageId, file };
    },
    close: () => undefined,
  };
}

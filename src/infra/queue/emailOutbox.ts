import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { emailKinds, type EmailKind } from '../mail/templates';
import { withTimeout } from '../withTimeout';
import type { EmailJobData, EmailQueue } from './emailQueue';

/**
 * The email outbox is the `email_sends` table: one row per emailing event, written by the notifier
 * in the transaction that moves its checkpoint, claimed by the worker that sends it, marked sent
 * (or skipped). PostgreSQL alone says which emails are still owed, whatever Redis has kept.
 */

/** Records the emails a batch of events owes; rows already there (a re-delivered batch) stay as they are. */
export async function recordEmails(trx: Knex | Knex.Transaction, emails: readonly EmailJobData[]): Promise<void> {
  if (emails.length === 0) return;
  await trx('email_sends')
    .insert(emails.map((e) => ({ event_id: e.eventId, order_id: e.orderId, template: e.kind })))
    .onConflict('event_id')
    .ignore();
}

interface PendingRow {
  event_id: string;
  order_id: string;
  template: string;
}

const isEmailKind = (value: string): value is EmailKind => (emailKinds as readonly string[]).includes(value);

export interface PendingPage {
  emails: EmailJobData[];
  /** Rows read (a row of a kind this version does not know is read but not offered). */
  rows: number;
  lastEventId: string | undefined;
}

/** Emails neither sent nor skipped, in event-id order after `after` (keyset paging). */
export async function pendingEmails(knex: Knex, after: string | undefined, limit: number): Promise<PendingPage> {
  const query = knex('email_sends').whereNull('sent_at').whereNull('skipped_reason').orderBy('event_id').limit(limit).select('event_id', 'order_id', 'template');
  if (after !== undefined) query.where('event_id', '>', after);
  const rows = (await query) as PendingRow[];
  return {
    emails: rows.flatMap((row) => (isEmailKind(row.template) ? [{ eventId: row.event_id, orderId: row.order_id, kind: row.template }] : [])),
    rows: rows.length,
    lastEventId: rows[rows.length - 1]?.event_id,
  };
}

export interface EmailReconcilerOptions {
  knex: Knex;
  emails: Pick<EmailQueue, 'enqueue'>;
  logger: Logger;
  /** Pause between passes; the first pass runs at start. */
  intervalMs: number;
  /** Rows read and offered to the queue per round trip. */
  pageSize?: number;
  /** Rows one pass looks at; the next pass goes on from where this one stopped. */
  maxPerPass?: number;
  /** Bound on Redis acknowledging one page. */
  enqueueTimeoutMs?: number;
}

/**
 * Puts every pending outbox row back on the queue, at start and every `intervalMs`. Adding a job
 * whose id (the event id) BullMQ still holds — waiting, delayed, active, completed or failed — is a
 * no-op, so only jobs Redis has lost are queued again; a job queued twice by a race finds the row's
 * claim or `sent_at` and sends nothing. Safe to run in every worker process.
 */
export class EmailReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** Where the next pass starts when the previous one hit maxPerPass. */
  private cursor: string | undefined;

  constructor(private readonly options: EmailReconcilerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; returns how many pending rows it looked at (and offered to the queue). */
  async runOnce(): Promise<number> {
    const { knex, emails } = this.options;
    const pageSize = this.options.pageSize ?? 500;
    const maxPerPass = this.options.maxPerPass ?? 10_000;
    let offered = 0;
    while (offered < maxPerPass) {
      const wanted = Math.min(pageSize, maxPerPass - offered);
      const page = await pendingEmails(knex, this.cursor, wanted);
      if (page.emails.length > 0) await withTimeout(emails.enqueue(page.emails), this.options.enqueueTimeoutMs ?? 10_000, 'queueing pending emails');
      offered += page.rows;
      this.cursor = page.lastEventId ?? this.cursor;
      if (page.rows < wanted) {
        this.cursor = undefined;
        break;
      }
    }
    return offered;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.schedule(this.options.intervalMs);
      });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    try {
      const offered = await this.runOnce();
      if (offered > 0) this.options.logger.debug({ offered }, 'pending emails offered to the queue');
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'email outbox reconciliation failed; trying again at the next pass');
    }
  }
}

import type { Knex } from 'knex';
import type { Logger } from '../logger';
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

export interface PendingPage {
  emails: EmailJobData[];
  /** Rows read (a row of a kind this version does not know is read but not offered). */
  rows: number;
  lastEventId: string | undefined;
}

/** Which kinds of email this version can send; rows of other kinds are read but not offered. */
export type KnownEmailKind = (kind: string) => boolean;

const anyKind: KnownEmailKind = () => true;

/** Emails neither sent nor skipped, in event-id order after `after` (keyset paging). */
export async function pendingEmails(knex: Knex, after: string | undefined, limit: number, known: KnownEmailKind = anyKind): Promise<PendingPage> {
  const query = knex('email_sends').whereNull('sent_at').whereNull('skipped_reason').orderBy('event_id').limit(limit).select('event_id', 'order_id', 'template');
  if (after !== undefined) query.where('event_id', '>', after);
  const rows = (await query) as PendingRow[];
  return {
    emails: rows.flatMap((row) => (known(row.template) ? [{ eventId: row.event_id, orderId: row.order_id, kind: row.template }] : [])),
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
  /** Kinds this version can send (default: every kind). */
  knownKinds?: KnownEmailKind;
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
      const page = await pendingEmails(knex, this.cursor, wanted, this.options.knownKinds);
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

/**
 * A claim older than this without `sent_at` belongs to a worker that died mid-send: the send is
 * taken over. Longer than any send can take (the mailer's socket timeouts are far shorter), so a
 * live sender is never doubled.
 */
export const CLAIM_LEASE_SECONDS = 120;

export class ClaimInProgressError extends Error {
  constructor(eventId: string) {
    super(`email for event ${eventId} is being sent by another worker; retrying later`);
    this.name = 'ClaimInProgressError';
  }
}

/**
 * Claims the sends of several events' emails in one statement: per email, true when this worker
 * may send it. The outbox row (written by the notifier, or here for a job queued without one) is
 * ours when unclaimed or when its holder died (lease expired, never sent); a sent or skipped one
 * means nothing to do; a live claim is a ClaimInProgressError for that email alone, so its job
 * retries later and a crash between claim and send delays the email, never loses it.
 */
export async function claimEmailSends(knex: Knex, emails: readonly EmailJobData[]): Promise<Array<boolean | ClaimInProgressError>> {
  if (emails.length === 0) return [];
  // One row per event: a statement cannot claim a row twice, and a second job for an event this
  // call claims finds it held, as it would one claimed a moment before.
  const distinct = [...new Map(emails.map((e) => [e.eventId.toLowerCase(), e])).values()];
  const claimed = (await knex.raw(
    `insert into email_sends as s (event_id, order_id, template, claimed_at)
       select e.event_id, e.order_id, e.template, now() from unnest(?::uuid[], ?::uuid[], ?::text[]) as e (event_id, order_id, template)
     on conflict (event_id) do update set claimed_at = now()
       where s.sent_at is null and s.skipped_reason is null
         and (s.claimed_at is null or s.claimed_at < now() - make_interval(secs => ?))
     returning event_id`,
    [distinct.map((e) => e.eventId), distinct.map((e) => e.orderId), distinct.map((e) => e.kind), CLAIM_LEASE_SECONDS],
  )) as { rows: Array<{ event_id: string }> };
  const ours = new Set(claimed.rows.map((row) => row.event_id));
  const others = distinct.filter((e) => !ours.has(e.eventId.toLowerCase())).map((e) => e.eventId);
  // Read after the claim (its own statement), so a claim another worker committed meanwhile is seen.
  const rows =
    others.length === 0
      ? []
      : ((await knex('email_sends').whereIn('event_id', others).select('event_id', 'sent_at', 'skipped_reason')) as Array<{
          event_id: string;
          sent_at: Date | null;
          skipped_reason: string | null;
        }>);
  const inProgress = new Set(rows.filter((row) => row.sent_at === null && row.skipped_reason === null).map((row) => row.event_id));
  const handedOut = new Set<string>();
  return emails.map((e) => {
    const id = e.eventId.toLowerCase();
    if (ours.has(id) && !handedOut.has(id)) {
      handedOut.add(id);
      return true;
    }
    return ours.has(id) || inProgress.has(id) ? new ClaimInProgressError(e.eventId) : false;
  });
}

/** Settles an email that can never be sent, so the outbox stops offering it. */
export async function skipEmailSend(knex: Knex, data: EmailJobData, reason: 'no-recipient' | 'customer-erased'): Promise<void> {
  await knex.raw(
    `insert into email_sends as s (event_id, order_id, template, skipped_reason) values (?, ?, ?, ?)
     on conflict (event_id) do update set skipped_reason = excluded.skipped_reason where s.sent_at is null`,
    [data.eventId, data.orderId, data.kind, reason],
  );
}

/** The sends failed: their rows go back to pending so a retry can send them. */
export async function releaseEmailClaims(knex: Knex, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await knex('email_sends')
    .whereIn('event_id', [...eventIds])
    .whereNull('sent_at')
    .update({ claimed_at: null });
}

export async function markEmailsSent(knex: Knex, sent: ReadonlyArray<{ eventId: string; messageId: string }>): Promise<void> {
  if (sent.length === 0) return;
  await knex.raw(
    `update email_sends as s set sent_at = now(), message_id = v.message_id
       from unnest(?::uuid[], ?::text[]) as v (event_id, message_id)
     where s.event_id = v.event_id`,
    [sent.map((e) => e.eventId), sent.map((e) => e.messageId)],
  );
}

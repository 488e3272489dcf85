import { UnrecoverableError, Worker } from 'bullmq';
import type { Knex } from 'knex';
import { evolve, initialOrderState } from '../../commands/order/orderDecider';
import { decodeOrderEvent, orderStreamId, type StoredOrderEvent } from '../../events/codec';
import type { Config } from '../config/config';
import type { EventStore } from '../eventstore/eventStore';
import type { Logger } from '../logger';
import { createMailer, type Mailer } from '../mail/mailer';
import { renderEmail } from '../mail/templates';
import { createRedis } from '../redis';
import { bullPrefix, EMAIL_QUEUE, type EmailJobData } from './emailQueue';

export type EmailOutcome =
  | { status: 'sent'; messageId: string; file?: string }
  | { status: 'skipped'; reason: 'already-claimed' | 'no-recipient' };

export interface EmailJobDeps {
  knex: Knex;
  store: EventStore;
  mailer: Mailer;
  logger: Logger;
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
 * Claims the send of one event's email: true when this worker may send. The outbox row (written by
 * the notifier, or here for a job queued without one) is ours when unclaimed or when its holder
 * died (lease expired, never sent); a sent or skipped one means nothing to do; a live claim makes
 * the job retry later, so a crash between claim and send delays the email, never loses it.
 */
async function claimSend(knex: Knex, data: EmailJobData): Promise<boolean> {
  const claimed = (await knex.raw(
    `insert into email_sends as s (event_id, order_id, template, claimed_at) values (?, ?, ?, now())
     on conflict (event_id) do update set claimed_at = now()
       where s.sent_at is null and s.skipped_reason is null
         and (s.claimed_at is null or s.claimed_at < now() - make_interval(secs => ?))
     returning event_id`,
    [data.eventId, data.orderId, data.kind, CLAIM_LEASE_SECONDS],
  )) as { rows: unknown[] };
  if (claimed.rows.length > 0) return true;
  const row = (await knex('email_sends').where({ event_id: data.eventId }).first('sent_at', 'skipped_reason')) as
    | { sent_at: Date | null; skipped_reason: string | null }
    | undefined;
  if (row && row.sent_at === null && row.skipped_reason === null) throw new ClaimInProgressError(data.eventId);
  return false;
}

/** Settles an email that can never be sent, so the outbox stops offering it. */
async function skipSend(knex: Knex, data: EmailJobData, reason: 'no-recipient'): Promise<void> {
  await knex.raw(
    `insert into email_sends as s (event_id, order_id, template, skipped_reason) values (?, ?, ?, ?)
     on conflict (event_id) do update set skipped_reason = excluded.skipped_reason where s.sent_at is null`,
    [data.eventId, data.orderId, data.kind, reason],
  );
}

/**
 * Sends the email for one event once. The claim is taken before sending: a re-delivered event (a
 * notifier restart, a job re-added after BullMQ removed the completed one, the outbox re-queueing
 * a job Redis lost) finds it sent and does nothing. A send that fails releases its claim, leaving
 * the row pending, so the retry can send. A crash after the SMTP server accepted the message but
 * before `sent_at` is written sends it again once the lease has run out; both copies carry the
 * same Message-ID (derived from the event id), so receivers can drop the second.
 */
export async function processEmailJob(deps: EmailJobDeps, data: EmailJobData): Promise<EmailOutcome> {
  const { knex, store, mailer, logger } = deps;
  const records = await store.readStream(orderStreamId(data.orderId));
  const index = records.findIndex((r) => r.id === data.eventId);
  if (index === -1) throw new UnrecoverableError(`event ${data.eventId} is not in stream ${orderStreamId(data.orderId)}`);
  const events: StoredOrderEvent[] = records.slice(0, index + 1).map(decodeOrderEvent);
  const state = events.reduce((s, e) => evolve(s, e.event), initialOrderState);
  const placed = events[0]?.event;
  if (state.status === 'NONE' || placed?.type !== 'OrderPlaced') throw new UnrecoverableError(`stream of order ${data.orderId} does not start with OrderPlaced`);

  const user = (await knex('users').where('id', state.userId).first('email')) as { email: string } | undefined;
  if (!user) {
    logger.warn({ orderId: data.orderId, eventId: data.eventId }, 'order owner has no user row; no email sent');
    await skipSend(knex, data, 'no-recipient');
    return { status: 'skipped', reason: 'no-recipient' };
  }

  if (!(await claimSend(knex, data))) {
    logger.info({ eventId: data.eventId, kind: data.kind }, 'email already sent or settled for this event; not sending again');
    return { status: 'skipped', reason: 'already-claimed' };
  }

  const rendered = renderEmail(data.kind, {
    orderId: data.orderId,
    items: placed.data.items,
    totalAmount: state.totalAmount,
    currency: state.currency,
    event: events[index]!.event,
  });
  let result: Awaited<ReturnType<Mailer['send']>>;
  try {
    result = await mailer.send({ ...rendered, to: user.email, eventId: data.eventId });
  } catch (error) {
    await knex('email_sends').where({ event_id: data.eventId }).whereNull('sent_at').update({ claimed_at: null });
    throw error;
  }
  await knex('email_sends').where({ event_id: data.eventId }).update({ sent_at: knex.fn.now(), message_id: result.messageId });
  return { status: 'sent', ...result };
}

export interface EmailWorkerOptions {
  config: Config;
  knex: Knex;
  store: EventStore;
  logger: Logger;
  concurrency?: number;
  /** How long stop() lets in-flight sends finish before abandoning them to a retry. */
  shutdownGraceMs?: number;
}

export interface EmailWorker {
  worker: Worker<EmailJobData, EmailOutcome>;
  mailer: Mailer;
  stop(): Promise<void>;
}

export function startEmailWorker(options: EmailWorkerOptions): EmailWorker {
  const { config, knex, store } = options;
  const logger = options.logger.child({ role: 'worker' });
  const mailer = createMailer(config, logger);
  const connection = createRedis(config);
  connection.on('error', (error) => logger.warn({ err: error.message }, 'email worker redis connection error'));
  const worker = new Worker<EmailJobData, EmailOutcome>(EMAIL_QUEUE, (job) => processEmailJob({ knex, store, mailer, logger }, job.data), {
    connection,
    prefix: bullPrefix(config),
    concurrency: options.concurrency ?? 4,
    autorun: true,
  });
  worker.on('completed', (job, outcome) => logger.debug({ jobId: job.id, kind: job.data.kind, outcome }, 'email job done'));
  worker.on('failed', (job, error) =>
    logger.warn({ jobId: job?.id, kind: job?.data.kind, attempts: job?.attemptsMade, err: error.message }, 'email job failed'),
  );
  worker.on('error', (error) => logger.warn({ err: error.message }, 'email worker error'));

  return {
    worker,
    mailer,
    async stop() {
      const grace = options.shutdownGraceMs ?? 15_000;
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        worker.close().then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), grace);
        }),
      ]);
      clearTimeout(timer);
      if (!finished) {
        logger.warn({ graceMs: grace }, 'email worker did not finish in-flight jobs in time; they will be retried');
        await worker.close(true).catch(() => undefined);
      }
      mailer.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

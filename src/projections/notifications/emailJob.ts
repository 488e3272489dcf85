import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import { foldOrderEvents, loadOrder, type FoldedOrder } from '../../commands/order/orderStream';
import { decodeOrderEvent, orderStreamId } from '../../events/codec';
import { Batcher, type BatcherOptions } from '../../infra/batcher';
import type { EventStore, RecordedEvent } from '../../infra/eventstore/eventStore';
import type { Logger } from '../../infra/logger';
import type { Mailer } from '../../infra/mail/mailer';
import { claimEmailSends, markEmailsSent, releaseEmailClaims, skipEmailSend } from '../../infra/queue/emailOutbox';
import type { EmailJobData } from '../../infra/queue/emailQueue';
import type { DataKeyStore } from '../../infra/privacy/dataKeyStore';
import { openOrderPersonalData } from '../../commands/privacy/personalData';
import type { OrderPersonalData } from '../../commands/privacy/shippingAddress';
import { isEmailKind, renderEmail } from './emailTemplates';

export type EmailOutcome = { status: 'sent'; messageId: string; file?: string } | { status: 'skipped'; reason: 'already-claimed' | 'no-recipient' | 'customer-erased' };

export interface EmailJobDeps {
  knex: Knex;
  store: EventStore;
  mailer: Mailer;
  logger: Logger;
  dataKeys: DataKeyStore;
  /** Shared by the jobs a worker runs at once, so their reads and writes go as one statement each; absent: this job's own. */
  batches?: EmailBatches;
}

interface Recipient {
  email: string;
  erased_at: Date | null;
}

/** What the email jobs running at once ask PostgreSQL (or the event store) for, one statement per kind. */
export interface EmailBatches {
  /** An order stream from its start, at most ORDER_READ_LIMIT events, by stream id. */
  orderStreams: Batcher<string, RecordedEvent[]>;
  recipients: Batcher<string, Recipient | undefined>;
  dataKeys: Batcher<string, Buffer | undefined>;
  claims: Batcher<EmailJobData, boolean>;
  sent: Batcher<{ eventId: string; messageId: string }, void>;
  released: Batcher<string, void>;
}

/**
 * A few milliseconds: the worker's jobs start one Redis round trip apart, and an email waiting that
 * long costs nothing. A batch is bounded by the worker's concurrency long before maxBatchSize.
 */
export const EMAIL_BATCHING: BatcherOptions = { windowMs: 4, maxBatchSize: 100 };

/** Longer order streams (none in practice) are read page by page, alone. */
const ORDER_READ_LIMIT = 1000;

export function createEmailBatches(deps: Pick<EmailJobDeps, 'knex' | 'store' | 'dataKeys'>, options: BatcherOptions = EMAIL_BATCHING): EmailBatches {
  const { knex, store, dataKeys } = deps;
  return {
    orderStreams: new Batcher(async (streamIds) => {
      const streams = await store.readStreams(streamIds, { maxCount: ORDER_READ_LIMIT });
      return streamIds.map((id) => streams.get(id) ?? []);
    }, options),
    recipients: new Batcher(async (userIds) => {
      const rows = (await knex('users')
        .whereIn('id', [...new Set(userIds)])
        .select('id', 'email', 'erased_at')) as Array<Recipient & { id: string }>;
      const byId = new Map(rows.map((row) => [row.id, { email: row.email, erased_at: row.erased_at }]));
      return userIds.map((id) => byId.get(id));
    }, options),
    dataKeys: new Batcher(async (userIds) => {
      const keys = await dataKeys.existingKeys(userIds);
      return userIds.map((id) => keys.get(id));
    }, options),
    claims: new Batcher((emails) => claimEmailSends(knex, emails), options),
    sent: new Batcher(async (sent) => {
      await markEmailsSent(knex, sent);
      return sent.map(() => undefined);
    }, options),
    released: new Batcher(async (eventIds) => {
      await releaseEmailClaims(knex, eventIds);
      return eventIds.map(() => undefined);
    }, options),
  };
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
  const { knex, mailer, logger } = deps;
  const batches = deps.batches ?? createEmailBatches(deps, { windowMs: 0, maxBatchSize: 1 });
  const kind = data.kind;
  if (!isEmailKind(kind)) throw new UnrecoverableError(`email kind ${kind} is not one this version sends`);
  const { state, events } = await orderThrough(deps, batches, data);
  const emailed = events[events.length - 1];
  if (emailed?.id !== data.eventId) throw new UnrecoverableError(`event ${data.eventId} is not in stream ${orderStreamId(data.orderId)}`);
  const placed = events[0]?.event;
  if (state.status === 'NONE' || placed?.type !== 'OrderPlaced') throw new UnrecoverableError(`stream of order ${data.orderId} does not start with OrderPlaced`);

  const user = await batches.recipients.get(state.userId);
  if (!user) {
    logger.warn({ orderId: data.orderId, eventId: data.eventId }, 'order owner has no user row; no email sent');
    await skipEmailSend(knex, data, 'no-recipient');
    return { status: 'skipped', reason: 'no-recipient' };
  }
  // An erased customer gets no email, whichever order event is still in the queue.
  const personal = user.erased_at ? undefined : await personalDataOf(batches, state.userId, data.orderId, placed.data.personalData);
  if (user.erased_at || personal === 'erased') {
    await skipEmailSend(knex, data, 'customer-erased');
    return { status: 'skipped', reason: 'customer-erased' };
  }

  if (!(await batches.claims.get(data))) {
    logger.info({ eventId: data.eventId, kind: data.kind }, 'email already sent or settled for this event; not sending again');
    return { status: 'skipped', reason: 'already-claimed' };
  }

  const rendered = renderEmail(kind, {
    orderId: data.orderId,
    items: placed.data.items,
    totalAmount: state.totalAmount,
    currency: state.currency,
    event: emailed.event,
    ...(personal?.shippingAddress ? { shippingAddress: personal.shippingAddress } : {}),
  });
  let result: Awaited<ReturnType<Mailer['send']>>;
  try {
    result = await mailer.send({ ...rendered, to: personal?.contactEmail ?? user.email, eventId: data.eventId });
  } catch (error) {
    await batches.released.get(data.eventId);
    throw error;
  }
  await batches.sent.get({ eventId: data.eventId, messageId: result.messageId });
  return { status: 'sent', ...result };
}

/** The order as it stood right after the event: a later change does not rewrite this email. */
async function orderThrough(deps: EmailJobDeps, batches: EmailBatches, data: EmailJobData): Promise<FoldedOrder> {
  const records = await batches.orderStreams.get(orderStreamId(data.orderId));
  const at = records.findIndex((record) => record.id === data.eventId);
  if (at === -1 && records.length >= ORDER_READ_LIMIT) return loadOrder(deps.store, data.orderId, { throughEventId: data.eventId });
  return foldOrderEvents(data.orderId, (at === -1 ? records : records.slice(0, at + 1)).map(decodeOrderEvent));
}

async function personalDataOf(batches: EmailBatches, userId: string, orderId: string, sealed: string | undefined): Promise<OrderPersonalData | 'erased' | undefined> {
  if (!sealed) return undefined;
  const key = await batches.dataKeys.get(userId);
  return key ? openOrderPersonalData(key, userId, orderId, sealed) : 'erased';
}

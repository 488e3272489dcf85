import { UnrecoverableError } from 'bullmq';
import type { Knex } from 'knex';
import { loadOrder } from '../../commands/order/orderStream';
import { orderStreamId } from '../../events/codec';
import type { EventStore } from '../../infra/eventstore/eventStore';
import type { Logger } from '../../infra/logger';
import type { Mailer } from '../../infra/mail/mailer';
import { claimEmailSend, markEmailSent, releaseEmailClaim, skipEmailSend } from '../../infra/queue/emailOutbox';
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
  const kind = data.kind;
  if (!isEmailKind(kind)) throw new UnrecoverableError(`email kind ${kind} is not one this version sends`);
  // The order as it stood right after the event: a later change does not rewrite this email.
  const { state, events } = await loadOrder(store, data.orderId, { throughEventId: data.eventId });
  const emailed = events[events.length - 1];
  if (emailed?.id !== data.eventId) throw new UnrecoverableError(`event ${data.eventId} is not in stream ${orderStreamId(data.orderId)}`);
  const placed = events[0]?.event;
  if (state.status === 'NONE' || placed?.type !== 'OrderPlaced') throw new UnrecoverableError(`stream of order ${data.orderId} does not start with OrderPlaced`);

  const user = (await knex('users').where('id', state.userId).first('email', 'erased_at')) as { email: string; erased_at: Date | null } | undefined;
  if (!user) {
    logger.warn({ orderId: data.orderId, eventId: data.eventId }, 'order owner has no user row; no email sent');
    await skipEmailSend(knex, data, 'no-recipient');
    return { status: 'skipped', reason: 'no-recipient' };
  }
  // An erased customer gets no email, whichever order event is still in the queue.
  const personal = user.erased_at ? undefined : await personalDataOf(deps, state.userId, data.orderId, placed.data.personalData);
  if (user.erased_at || personal === 'erased') {
    await skipEmailSend(knex, data, 'customer-erased');
    return { status: 'skipped', reason: 'customer-erased' };
  }

  if (!(await claimEmailSend(knex, data))) {
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
    await releaseEmailClaim(knex, data.eventId);
    throw error;
  }
  await markEmailSent(knex, data.eventId, result.messageId);
  return { status: 'sent', ...result };
}

async function personalDataOf(deps: EmailJobDeps, userId: string, orderId: string, sealed: string | undefined): Promise<OrderPersonalData | 'erased' | undefined> {
  if (!sealed) return undefined;
  const key = (await deps.dataKeys.existingKeys([userId])).get(userId);
  return key ? openOrderPersonalData(key, userId, orderId, sealed) : 'erased';
}

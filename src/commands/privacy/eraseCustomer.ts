import bcrypt from 'bcrypt';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../errors';
import type { EncodeContext } from '../../events/codec';
import type { OrderStatus } from '../../events/orderEvents';
import type { EventStore } from '../../infra/eventstore/eventStore';
import { purgeOutboxFiles } from '../../infra/mail/outboxPurge';
import type { DataKeyStore } from '../../infra/privacy/dataKeyStore';
import { loadOrder } from '../order/orderStream';
import { handleOrderCommand } from '../orderCommandHandler';

export interface ErasureDeps {
  knex: Knex;
  store: EventStore;
  dataKeys: DataKeyStore;
  /** MAIL_OUTBOX_DIR when emails are written as files (no SMTP_URL): their copies are erased too. */
  mailOutboxDir: string | undefined;
}

export interface ErasureResult {
  userId: string;
  /** Open orders cancelled (paid ones are refunded by the refund reactor, as for any admin cancellation). */
  cancelledOrderIds: string[];
  /** Orders whose personal data now reads as erased. */
  erasedOrderIds: string[];
  outboxFilesRemoved: number;
}

export class ErasureWaitsForFulfilmentError extends ConflictError {
  constructor(orderIds: string[]) {
    super('ERASURE_WAITS_FOR_FULFILMENT', `Erasure waits until these orders are delivered or refunded: the goods are on their way to the address (${orderIds.join(', ')})`, {
      orderIds,
    });
  }
}

export class UserNotFoundError extends NotFoundError {
  constructor() {
    super('USER_NOT_FOUND', 'No such user');
  }
}

// PROCESSING and SHIPPED orders still need the address: erasure waits for them.
const inFulfilment: ReadonlySet<OrderStatus> = new Set(['PROCESSING', 'SHIPPED']);
const cancellable: ReadonlySet<OrderStatus> = new Set(['PENDING', 'PAYMENT_FAILED', 'PAID']);

/**
 * Erases a customer's personal data (GDPR Art. 17) from an append-only ledger: unless an order is
 * being prepared or shipped (erasure then waits), the data key is destroyed and the account
 * anonymised in one transaction, open orders are cancelled under the normal rules (a paid one is
 * refunded by the refund reactor), and every order records CustomerDataErased so read models drop
 * the sealed values. Amounts, statuses and times stay. Re-running finishes an erasure
 * a crash interrupted and otherwise changes nothing.
 */
export async function eraseCustomer(deps: ErasureDeps, userId: string, options: { now: string; context: EncodeContext }): Promise<ErasureResult> {
  const user = (await deps.knex('users').where('id', userId).first('id', 'erased_at')) as { id: string; erased_at: Date | null } | undefined;
  if (!user) throw new UserNotFoundError();
  const orderIds = ((await deps.knex('orders').where('user_id', userId).orderBy('placed_at').select('id')) as { id: string }[]).map((r) => r.id);
  const orders = await Promise.all(orderIds.map((id) => loadOrder(deps.store, id)));
  if (!user.erased_at) {
    const blocked = orders.filter((o) => o.state.status !== 'NONE' && inFulfilment.has(o.state.status)).map((o) => o.orderId);
    if (blocked.length > 0) throw new ErasureWaitsForFulfilmentError(blocked);
  }
  // Cheap rounds: nobody can sign in with it anyway; it only has to be a valid hash no password matches.
  const unusableHash = await bcrypt.hash(randomUUID(), 4);
  await deps.knex.transaction(async (trx) => {
    await deps.dataKeys.destroy(userId, trx);
    await trx('users')
      .where('id', userId)
      .update({
        email: `erased-${userId}@erased.invalid`,
        password_hash: unusableHash,
        default_shipping_address: null,
        disabled_at: trx.raw('coalesce(disabled_at, now())'),
        erased_at: trx.raw('coalesce(erased_at, now())'),
        token_version: trx.raw('token_version + 1'),
      });
    // The key binds a request hash that covered the address: a fingerprint of it.
    await trx('idempotency_keys').where('user_id', userId).del();
  });
  const cancelledOrderIds: string[] = [];
  // After the account is erased, so the cancellations' emails find no one to write to.
  for (const order of orders) {
    if (order.state.status === 'NONE' || !cancellable.has(order.state.status)) continue;
    await handleOrderCommand(
      deps.store,
      order.orderId,
      { type: 'CancelOrder', data: { by: 'admin', reason: 'customer data erased', now: options.now } },
      { idempotencySource: `erasure-cancel:${order.orderId}`, context: options.context, loaded: order },
    );
    cancelledOrderIds.push(order.orderId);
  }
  const erasedOrderIds: string[] = [];
  for (const id of orderIds) {
    await handleOrderCommand(deps.store, id, { type: 'EraseCustomerData', data: { now: options.now } }, { idempotencySource: `erasure:${id}`, context: options.context });
    erasedOrderIds.push(id);
  }
  const eventIds = new Set((await Promise.all(orderIds.map((id) => loadOrder(deps.store, id)))).flatMap((o) => o.events.map((e) => e.id)));
  const outboxFilesRemoved = deps.mailOutboxDir ? await purgeOutboxFiles(deps.mailOutboxDir, eventIds) : 0;
  return { userId, cancelledOrderIds, erasedOrderIds, outboxFilesRemoved };
}

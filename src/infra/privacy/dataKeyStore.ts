import type { Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import type { KeyWrapper } from './masterKey';
import { KEY_BYTES } from './sealing';

/** The customer's data key was destroyed (erasure): nothing can be sealed or opened for them again. */
export class DataKeyDestroyedError extends Error {
  readonly code = 'CUSTOMER_DATA_ERASED';
  constructor(readonly userId: string) {
    super(`the personal data of user ${userId} was erased`);
    this.name = 'DataKeyDestroyedError';
  }
}

/**
 * Per-customer data keys. Keys live only here (never in events or exports), wrapped by the master
 * key; destroying one makes every value sealed with it unreadable, in backups too.
 */
export interface DataKeyStore {
  /** The customer's key, created on first use; DataKeyDestroyedError once erased. */
  keyFor(userId: string): Promise<Buffer>;
  /** The keys that exist for these customers; an erased (or never-created) key is absent. */
  existingKeys(userIds: readonly string[]): Promise<Map<string, Buffer>>;
  /** Destroys the key for good (inside the caller's transaction when given). Idempotent. */
  destroy(userId: string, trx?: Knex.Transaction): Promise<void>;
  /** Rewraps every key not wrapped by the current master key; the events are not touched. */
  rewrapAll(): Promise<{ rewrapped: number; total: number }>;
}

interface KeyRow {
  user_id: string;
  wrapped_key: Buffer | null;
  master_key_id: string | null;
}

const wrapContext = (userId: string): string => `order-ledger/data-key/v1/user:${userId}`;

export class PostgresDataKeyStore implements DataKeyStore {
  constructor(
    private readonly knex: Knex,
    private readonly wrapper: KeyWrapper,
  ) {}

  async keyFor(userId: string): Promise<Buffer> {
    const existing = (await this.knex('customer_data_keys').where('user_id', userId).first()) as KeyRow | undefined;
    if (existing) return this.unwrapRow(existing);
    const dataKey = randomBytes(KEY_BYTES);
    const { wrapped, keyId } = await this.wrapper.wrap(dataKey, wrapContext(userId));
    const inserted = (await this.knex('customer_data_keys')
      .insert({ user_id: userId, wrapped_key: wrapped, master_key_id: keyId })
      .onConflict('user_id')
      .ignore()
      .returning('user_id')) as { user_id: string }[];
    if (inserted.length > 0) return dataKey;
    // Another request created it first: use theirs, so both seal with the same key.
    const row = (await this.knex('customer_data_keys').where('user_id', userId).first()) as KeyRow;
    return this.unwrapRow(row);
  }

  async existingKeys(userIds: readonly string[]): Promise<Map<string, Buffer>> {
    const keys = new Map<string, Buffer>();
    if (userIds.length === 0) return keys;
    const rows = (await this.knex('customer_data_keys')
      .whereIn('user_id', [...new Set(userIds)])
      .whereNotNull('wrapped_key')) as KeyRow[];
    for (const row of rows) keys.set(row.user_id, await this.unwrapRow(row));
    return keys;
  }

  async destroy(userId: string, trx?: Knex.Transaction): Promise<void> {
    const db = trx ?? this.knex;
    // A tombstone, not a deleted row: keyFor must never mint a fresh key for an erased customer.
    await db('customer_data_keys')
      .insert({ user_id: userId, wrapped_key: null, master_key_id: null, destroyed_at: db.fn.now() })
      .onConflict('user_id')
      .merge({ wrapped_key: null, master_key_id: null, destroyed_at: db.raw('coalesce(customer_data_keys.destroyed_at, now())') });
  }

  async rewrapAll(): Promise<{ rewrapped: number; total: number }> {
    let rewrapped = 0;
    const total = Number(((await this.knex('customer_data_keys').whereNotNull('wrapped_key').count({ n: '*' }).first()) as { n: string }).n);
    // Bounded pages by user id; each row is rewrapped under a row lock so a concurrent erasure wins.
    for (let after = '00000000-0000-0000-0000-000000000000'; ;) {
      const page = (await this.knex('customer_data_keys')
        .where('user_id', '>', after)
        .whereNotNull('wrapped_key')
        .whereNot('master_key_id', this.wrapper.currentKeyId)
        .orderBy('user_id')
        .limit(500)
        .select('user_id')) as { user_id: string }[];
      if (page.length === 0) break;
      for (const { user_id: userId } of page) {
        await this.knex.transaction(async (trx) => {
          const row = (await trx('customer_data_keys').where('user_id', userId).forUpdate().first()) as KeyRow | undefined;
          if (!row?.wrapped_key || row.master_key_id === this.wrapper.currentKeyId) return;
          const dataKey = await this.unwrapRow(row);
          const { wrapped, keyId } = await this.wrapper.wrap(dataKey, wrapContext(userId));
          await trx('customer_data_keys').where('user_id', userId).update({ wrapped_key: wrapped, master_key_id: keyId, rewrapped_at: trx.fn.now() });
          rewrapped++;
        });
      }
      after = page[page.length - 1]!.user_id;
    }
    return { rewrapped, total };
  }

  private async unwrapRow(row: KeyRow): Promise<Buffer> {
    if (!row.wrapped_key || !row.master_key_id) throw new DataKeyDestroyedError(row.user_id);
    return this.wrapper.unwrap(row.wrapped_key, row.master_key_id, wrapContext(row.user_id));
  }
}

import type { Knex } from 'knex';
import { NotFoundError } from '../../errors';
import type { Role } from '../../infra/http/authTokens';

/**
 * Changes to what a user's tokens may do. Each is one statement; the 0005_auth_state triggers
 * announce it to every API instance, which drop their cached account (sockets included) at once.
 */

export class UserNotFoundError extends NotFoundError {
  constructor(what: string) {
    super('USER_NOT_FOUND', `No user ${what}`);
  }
}

export interface AccountSummary {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  tokenVersion: number;
}

const summaryColumns = ['id', 'email', 'role', 'disabled_at', 'token_version'] as const;

interface SummaryRow {
  id: string;
  email: string;
  role: Role;
  disabled_at: Date | null;
  token_version: number;
}

const toSummary = (row: SummaryRow): AccountSummary => ({
  id: row.id,
  email: row.email,
  role: row.role,
  disabled: row.disabled_at !== null,
  tokenVersion: row.token_version,
});

// Each logout also deletes this many revoked tokens that have expired anyway, so the table stays
// as small as the tokens still alive without a job of its own.
const PRUNE_PER_REVOCATION = 100;

/** Revokes one token (logout); `expiresAt` (seconds) is its exp, after which its row can go. */
export async function revokeToken(knex: Knex, token: { userId: string; tokenId: string; expiresAt: number }): Promise<void> {
  try {
    await knex('revoked_tokens')
      .insert({ jti: token.tokenId, user_id: token.userId, expires_at: new Date(token.expiresAt * 1000) })
      .onConflict('jti')
      .ignore();
  } catch (error) {
    // The user was deleted meanwhile: none of their tokens works any more anyway.
    if ((error as { code?: string }).code !== '23503') throw error;
  }
  await knex('revoked_tokens')
    .whereIn('jti', knex('revoked_tokens').select('jti').where('expires_at', '<', knex.fn.now()).limit(PRUNE_PER_REVOCATION))
    .delete();
}

/** Revokes every token the user holds now; tokens signed afterwards work. */
export async function revokeAllTokens(knex: Knex, userId: string): Promise<AccountSummary> {
  const [row] = (await knex('users').where('id', userId).increment('token_version', 1).returning(summaryColumns)) as SummaryRow[];
  if (!row) throw new UserNotFoundError(`with id ${userId}`);
  return toSummary(row);
}

function byEmail(knex: Knex, email: string): Knex.QueryBuilder {
  return knex('users').whereRaw('lower(email) = lower(?)', [email.trim()]);
}

export async function setRole(knex: Knex, email: string, role: Role): Promise<AccountSummary> {
  const [row] = (await byEmail(knex, email).update({ role }).returning(summaryColumns)) as SummaryRow[];
  if (!row) throw new UserNotFoundError(`with email ${email.trim()}`);
  return toSummary(row);
}

/** Disabling also revokes every token, so enabling again does not bring old tokens back. */
export async function setDisabled(knex: Knex, email: string, disabled: boolean): Promise<AccountSummary> {
  const change = disabled ? { disabled_at: knex.raw('coalesce(disabled_at, now())'), token_version: knex.raw('token_version + 1') } : { disabled_at: null };
  const [row] = (await byEmail(knex, email).update(change).returning(summaryColumns)) as SummaryRow[];
  if (!row) throw new UserNotFoundError(`with email ${email.trim()}`);
  return toSummary(row);
}

export async function revokeAllTokensByEmail(knex: Knex, email: string): Promise<AccountSummary> {
  const row = (await byEmail(knex, email).first('id')) as { id: string } | undefined;
  if (!row) throw new UserNotFoundError(`with email ${email.trim()}`);
  return revokeAllTokens(knex, row.id);
}

import type { Knex } from 'knex';
import type { AuthState } from '../../infra/auth/authState';
import { UnauthorizedError, type AuthUser, type TokenService } from '../../infra/http/authTokens';
import { revokeAllTokens, revokeToken } from './accounts';
import { InvalidCredentialsError } from './users';

export interface SessionDeps {
  knex: Knex;
  tokens: TokenService;
  /** The accounts as they are now (the API's cache, dropped on change). */
  auth: Pick<AuthState, 'refresh' | 'invalidate'>;
}

/**
 * Email and password for a token. The account is read now, not from the cache: the token carries
 * the account's current token version, and a disabled account gets ACCOUNT_DISABLED (only once
 * the password was right, so the answer tells a stranger nothing).
 */
export async function signIn(
  deps: SessionDeps & { verifyCredentials(email: string, password: string): Promise<AuthUser> },
  email: string,
  password: string,
): Promise<{ token: string; user: AuthUser }> {
  const verified = await deps.verifyCredentials(email, password);
  const account = (await deps.auth.refresh([verified.id])).get(verified.id);
  if (!account) throw new InvalidCredentialsError();
  if (account.disabled) throw new UnauthorizedError('This account is disabled', 'ACCOUNT_DISABLED');
  const user = { id: account.id, email: account.email, role: account.role };
  const { token } = deps.tokens.sign({ ...user, tokenVersion: account.tokenVersion });
  return { token, user };
}

/**
 * Revokes one token (logout). Every API instance hears of it from the database; this one also drops
 * its cached account at once, so the caller's next request here already sees it.
 */
export async function signOut(deps: SessionDeps, token: string): Promise<void> {
  const verified = deps.tokens.verify(token);
  await revokeToken(deps.knex, { userId: verified.id, tokenId: verified.tokenId, expiresAt: verified.expiresAt });
  deps.auth.invalidate([verified.id]);
}

/** Revokes every token the user holds now (logout everywhere, or an admin's revoke). */
export async function signOutEverywhere(deps: SessionDeps, userId: string): Promise<void> {
  await revokeAllTokens(deps.knex, userId);
  deps.auth.invalidate([userId]);
}

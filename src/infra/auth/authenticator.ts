import { AppError, UnavailableError } from '../../errors';
import { UnauthorizedError, type AuthUser, type TokenService, type VerifiedToken } from '../http/authTokens';
import type { AccountState, AuthState } from './authState';

/** The user a request or socket acts for, as the account is now, and the token it came with. */
export interface Principal extends AuthUser {
  tokenId: string;
  tokenVersion: number;
  /** Token exp, seconds since the epoch. */
  expiresAt: number;
}

export interface Authenticator {
  /** Verifies the token and checks it against the account; 401 (UnauthorizedError) when it no longer holds. */
  authenticate(token: string): Promise<Principal>;
}

/**
 * Whether a token still stands for its account, and with which rights: the account's current
 * role and email, never the ones written in the token.
 */
export function checkAccount(account: AccountState | undefined, token: Pick<VerifiedToken, 'tokenId' | 'version'>): AuthUser {
  if (!account) throw new UnauthorizedError('This account no longer exists', 'ACCOUNT_NOT_FOUND');
  if (account.disabled) throw new UnauthorizedError('This account is disabled', 'ACCOUNT_DISABLED');
  if (token.version !== account.tokenVersion || account.revokedTokens.has(token.tokenId)) {
    throw new UnauthorizedError('Token has been revoked', 'TOKEN_REVOKED');
  }
  return { id: account.id, email: account.email, role: account.role };
}

export function createAuthenticator(tokens: TokenService, accounts: AuthState): Authenticator {
  return {
    async authenticate(token) {
      const verified = tokens.verify(token);
      const read = async (notBefore?: number): Promise<AccountState | undefined> => {
        try {
          return await accounts.get(verified.id, notBefore);
        } catch (error) {
          // Without the account nothing can be decided: refuse for now rather than trust the token.
          if (error instanceof AppError) throw error;
          throw new UnavailableError('AUTH_UNAVAILABLE', 'Could not check the account; retry shortly');
        }
      };
      let user: AuthUser;
      try {
        user = checkAccount(await read(), verified);
      } catch (error) {
        if (!(error instanceof UnauthorizedError) || verified.issuedAt === undefined) throw error;
        // The token was signed after this instance read the account (say, on another instance right
        // after the account was enabled): the refusal may rest on news not heard yet. Read it once
        // more; a read made after the token's second is trusted, so a replayed refused token costs
        // no further query.
        user = checkAccount(await read((verified.issuedAt + 1) * 1000), verified);
      }
      return { ...user, tokenId: verified.tokenId, tokenVersion: verified.version, expiresAt: verified.expiresAt };
    },
  };
}

/**
 * Takes a valid token's claims at face value, as the API did before accounts were checked. Only
 * for the benchmark's reference process (it measures what the per-request check costs); never
 * reachable through configuration.
 */
export function claimsOnlyAuthenticator(tokens: TokenService): Authenticator {
  return {
    authenticate(token) {
      const verified = tokens.verify(token);
      return Promise.resolve({
        id: verified.id,
        email: verified.email,
        role: verified.role,
        tokenId: verified.tokenId,
        tokenVersion: verified.version,
        expiresAt: verified.expiresAt,
      });
    },
  };
}

import { createHash, createSecretKey, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { AppError } from '../../errors';

export const roleSchema = z.enum(['user', 'admin']);
export type Role = z.infer<typeof roleSchema>;

export interface AuthUser {
  id: string;
  email: string;
  role: Role;
}

// jti and ver are absent from tokens signed before revocation existed; they are accepted until they
// expire, with an id derived from the token and version 0, so they can still be revoked.
const claimsSchema = z.object({
  sub: z.uuid(),
  email: z.string(),
  role: roleSchema,
  exp: z.number(),
  iat: z.number().optional(),
  jti: z.string().min(1).max(128).optional(),
  ver: z.number().int().min(0).optional(),
});

/**
 * A token whose signature and expiry are good. `role` and `email` are what the token says; what
 * the user may do now comes from the account (see src/infra/auth/authenticator.ts).
 */
export interface VerifiedToken extends AuthUser {
  /** exp, seconds since the epoch. */
  expiresAt: number;
  /** jti: what POST /auth/logout revokes. */
  tokenId: string;
  /** The account's token version when it was signed; revoking all tokens bumps the account's. */
  version: number;
  /** iat, seconds since the epoch (absent from tokens signed without it). */
  issuedAt?: number;
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required', code = 'UNAUTHORIZED') {
    super('unauthorized', code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this', code = 'FORBIDDEN') {
    super('forbidden', code, message);
  }
}

export interface TokenService {
  /** `tokenVersion` is the account's current one (0 when absent). */
  sign(user: AuthUser & { tokenVersion?: number }): { token: string; expiresAt: string };
  verify(token: string): VerifiedToken;
}

export function createTokenService(secret: string, expiresInSeconds: number): TokenService {
  // A KeyObject made once: given a string, jsonwebtoken first tries (and fails) to parse it as a
  // PEM public key on every call, which cost a fifth of the API's CPU under load.
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    sign(user) {
      const token = jwt.sign({ email: user.email, role: user.role, ver: user.tokenVersion ?? 0 }, key, {
        algorithm: 'HS256',
        subject: user.id,
        expiresIn: expiresInSeconds,
        jwtid: randomUUID(),
      });
      return { token, expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString() };
    },
    verify(token) {
      let payload: unknown;
      try {
        // Pinning the algorithm rejects alg=none and RS/HS confusion.
        payload = jwt.verify(token, key, { algorithms: ['HS256'] });
      } catch (error) {
        const expired = error instanceof jwt.TokenExpiredError;
        throw new UnauthorizedError(expired ? 'Token has expired' : 'Invalid token', expired ? 'TOKEN_EXPIRED' : 'INVALID_TOKEN');
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw new UnauthorizedError('Invalid token', 'INVALID_TOKEN');
      const { sub, email, role, exp, jti, ver, iat } = claims.data;
      return { id: sub, email, role, expiresAt: exp, tokenId: jti ?? legacyTokenId(token), version: ver ?? 0, ...(iat === undefined ? {} : { issuedAt: iat }) };
    },
  };
}

function legacyTokenId(token: string): string {
  return `legacy:${createHash('sha256').update(token).digest('base64url')}`;
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <token>"', 'INVALID_TOKEN');
  return match[1];
}

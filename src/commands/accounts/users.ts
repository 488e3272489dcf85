import bcrypt from 'bcrypt';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError, ConflictError, ValidationError } from '../../errors';
import '../../infra/http/openapi';
import { roleSchema, type AuthUser, type Role } from '../../infra/http/authTokens';

import { PASSWORD_MAX_BYTES, passwordPolicyDescription, passwordProblem } from './passwordPolicy';

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('email must be a valid email address').max(254))
  .openapi({ type: 'string', format: 'email', maxLength: 254, description: 'Compared case-insensitively; stored lower-cased' });

/** The password policy without the email rule (the email is a sibling field; see `refinePasswordAgainstEmail`). */
export const passwordSchema = z
  .string()
  .superRefine((password, ctx) => {
    const problem = passwordProblem(password);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, params: { rule: problem.rule } });
  })
  .openapi({ description: passwordPolicyDescription, maxLength: PASSWORD_MAX_BYTES });

/** The policy's email rule, for a body holding both fields. */
export function refinePasswordAgainstEmail(body: { email: string; password: string }, ctx: z.RefinementCtx): void {
  // zod runs this even when the fields failed: the field's own problem is reported already.
  if (typeof body.password !== 'string' || typeof body.email !== 'string' || passwordProblem(body.password)) return;
  const problem = passwordProblem(body.password, body.email);
  if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem.message, params: { rule: problem.rule } });
}

export const userDtoSchema = z.object({ id: z.uuid(), email: z.string(), role: roleSchema }).openapi('User');
export type UserDto = z.infer<typeof userDtoSchema>;

export class EmailTakenError extends ConflictError {
  constructor() {
    super('EMAIL_TAKEN', 'An account with this email already exists');
  }
}

export class InvalidCredentialsError extends AppError {
  constructor() {
    super('unauthorized', 'INVALID_CREDENTIALS', 'Invalid email or password');
  }
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  role: Role;
}

export interface UserStoreOptions {
  bcryptRounds: number;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/** Creates a user with a bcrypt hash of the password; the HTTP register route and `admin create` share it. */
export async function createUser(knex: Knex, input: { email: string; password: string; role: Role }, options: UserStoreOptions): Promise<UserDto> {
  const email = emailSchema.safeParse(input.email);
  if (!email.success) throw new ValidationError('email must be a valid email address', undefined, 'INVALID_EMAIL');
  const problem = passwordProblem(input.password, email.data);
  if (problem) throw new ValidationError(problem.message, { field: 'password', rule: problem.rule }, 'INVALID_PASSWORD');
  const role = roleSchema.parse(input.role);
  const passwordHash = await bcrypt.hash(input.password, options.bcryptRounds);
  const id = randomUUID();
  try {
    await knex('users').insert({ id, email: email.data, password_hash: passwordHash, role });
  } catch (error) {
    // The unique index is on lower(email), so "A@x" and "a@x" collide.
    if (isUniqueViolation(error)) throw new EmailTakenError();
    throw error;
  }
  return { id, email: email.data, role };
}

export async function findUserByEmail(knex: Knex, email: string): Promise<UserDto | undefined> {
  const row = (await knex('users').whereRaw('lower(email) = lower(?)', [email.trim()]).first('id', 'email', 'role')) as UserDto | undefined;
  return row ? { id: row.id, email: row.email, role: row.role } : undefined;
}

/**
 * Checks an email and password. A missing user still costs one bcrypt comparison (against a hash
 * made with the same rounds), so the answer's timing does not reveal whether the email exists.
 */
export function createCredentialVerifier(knex: Knex, options: UserStoreOptions): (email: string, password: string) => Promise<AuthUser> {
  // Made once, up front, so the first unknown-email login costs no more than the others.
  const dummyHash = bcrypt.hash(`dummy-${randomUUID()}`, options.bcryptRounds);
  dummyHash.catch(() => undefined);
  return async (email, password) => {
    const row = (await knex('users').whereRaw('lower(email) = lower(?)', [email.trim()]).first()) as UserRow | undefined;
    const hash = row ? row.password_hash : await dummyHash;
    // Longer inputs cannot match a stored password (registration refuses them), and bcrypt stops
    // reading at NUL, so "\u0000" would match a password of NULs: both are refused after a
    // comparison anyway, so the answer takes the same time.
    const tooLong = Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES;
    const unreadable = tooLong || password.includes('\u0000');
    const matches = await bcrypt.compare(unreadable ? 'unreadable-password' : password, hash);
    if (!row || !matches || unreadable) throw new InvalidCredentialsError();
    return { id: row.id, email: row.email, role: row.role };
  };
}

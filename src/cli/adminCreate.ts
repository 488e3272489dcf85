import type { Knex } from 'knex';
import { ValidationError } from '../errors';
import { createUser, passwordSchema, type UserDto } from '../infra/users';
import { CliFailure } from './output';

const COMMON = new Set([
  'password', 'password1', 'password123', 'passw0rd', 'p@ssw0rd', '12345678', '123456789', '1234567890', '87654321',
  'qwertyui', 'qwerty123', 'qwertyuiop', 'iloveyou', 'admin123', 'administrator', 'letmein1', 'welcome1', 'changeme',
  'abcd1234', '11111111', '00000000', 'football', 'baseball', 'sunshine', 'superman', 'trustno1',
]);

/**
 * Rules on top of the shared 8–72-byte check, for the account that can do everything: no famous
 * passwords, no single repeated character or plain run (12345678, abcdefgh), not the email itself.
 */
export function weakPasswordReason(password: string, email: string): string | undefined {
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) return 'password is one of the most common passwords';
  if (new Set(lower).size <= 2) return 'password uses only one or two distinct characters';
  const codes = [...lower].map((c) => c.codePointAt(0)!);
  const steps = new Set(codes.slice(1).map((code, i) => code - codes[i]!));
  if (steps.size === 1 && (steps.has(1) || steps.has(-1))) return 'password is a plain run of characters';
  const local = email.trim().toLowerCase().split('@')[0] ?? '';
  if (local.length >= 4 && lower.includes(local)) return 'password contains the email name';
  return undefined;
}

/** The first admin: the only way to make one, since the HTTP API registers plain users. */
export async function createAdmin(knex: Knex, input: { email: string; password: string }, bcryptRounds: number): Promise<UserDto> {
  // The shared length rule first: its message is the more basic one.
  const length = passwordSchema.safeParse(input.password);
  if (!length.success) throw new ValidationError(length.error.issues[0]?.message ?? 'invalid password', undefined, 'INVALID_PASSWORD');
  const weak = weakPasswordReason(input.password, input.email);
  if (weak) throw new CliFailure(`refusing a weak password: ${weak}`);
  return createUser(knex, { email: input.email, password: input.password, role: 'admin' }, { bcryptRounds });
}

/** Reads the password from the first line of stdin, so it stays out of shell history and `ps`. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buffer);
    size += buffer.length;
    // A password is short; stop reading a runaway pipe.
    if (size > 4096 || buffer.includes(10)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.length === 0) throw new CliFailure('no password on stdin');
  return line;
}

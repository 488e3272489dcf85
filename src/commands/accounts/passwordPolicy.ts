import { dictionary } from '@zxcvbn-ts/language-common';

/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 72;

export type PasswordRule = 'length' | 'control-characters' | 'common' | 'trivial' | 'email';

export interface PasswordProblem {
  rule: PasswordRule;
  message: string;
}

/** One description of the policy, shown in the API documentation. */
export const passwordPolicyDescription =
  `${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes in UTF-8, no control characters (NUL, tab, newline, …), ` +
  'not a common password, not one repeated character, short repeated pattern or plain run (12345678, abcdefgh), ' +
  'and not containing the name part of the email';

// Unicode general category Cc: C0 and C1 controls, NUL included (bcrypt stops reading at NUL).
const controlCharacter = /\p{Cc}/u;

let common: ReadonlySet<string> | undefined;

/**
 * The frequency-ranked list of leaked passwords zxcvbn-ts ships (about 49,000, lower case), kept
 * to the lengths the policy would otherwise accept. Built on first use.
 */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    dictionary['passwords-common'].filter((word) => {
      const bytes = Buffer.byteLength(word, 'utf8');
      return bytes >= PASSWORD_MIN_BYTES && bytes <= PASSWORD_MAX_BYTES;
    }),
  );
  return common;
}

function trivialReason(lower: string): string | undefined {
  const chars = [...lower];
  if (new Set(chars).size <= 2) return 'password uses only one or two distinct characters';
  const codes = chars.map((c) => c.codePointAt(0)!);
  const steps = new Set(codes.slice(1).map((code, i) => code - codes[i]!));
  if (steps.size === 1 && (steps.has(1) || steps.has(-1))) return 'password is a plain run of characters';
  for (let period = 3; period <= 4; period++) {
    if (chars.length >= 2 * period && chars.every((c, i) => c === chars[i % period])) return 'password repeats a short pattern';
  }
  return undefined;
}

/**
 * The one password policy, for every way an account is made (registration, an admin making an
 * admin, the CLI). Undefined when the password is acceptable. `email` enables the email rule.
 */
export function passwordProblem(password: string, email?: string): PasswordProblem | undefined {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    return { rule: 'length', message: `password must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes (UTF-8); got ${bytes}` };
  }
  if (controlCharacter.test(password)) return { rule: 'control-characters', message: 'password must not contain control characters' };
  const lower = password.toLowerCase();
  const trivial = trivialReason(lower);
  if (trivial) return { rule: 'trivial', message: trivial };
  if (commonPasswords().has(lower)) return { rule: 'common', message: 'password is one of the most common passwords' };
  if (email !== undefined) {
    const address = email.trim().toLowerCase();
    const local = address.split('@')[0] ?? '';
    if (lower === address || (local.length >= 4 && lower.includes(local))) return { rule: 'email', message: 'password contains the email name' };
  }
  return undefined;
}

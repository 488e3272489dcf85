import { z } from 'zod';

// Unpaired UTF-16 surrogates: JSON carries them, but neither jsonb nor a UTF-8 text column can store them.
const unpairedSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const controlCharacter = /\p{Cc}/u;

/** True for text that every store keeps exactly as sent: no control characters, no unpaired surrogates. */
export function isPlainText(text: string): boolean {
  return !controlCharacter.test(text) && !unpairedSurrogate.test(text);
}

/**
 * A short free-text field a client sends (a name, a reason, a message): trimmed, 1 to `max`
 * characters, one line of well-formed text.
 */
export function plainTextSchema(max: number, field: string): z.ZodType<string> {
  return z
    .string()
    .trim()
    .min(1, `${field} must not be empty`)
    .max(max)
    .refine(isPlainText, `${field} must be plain text: no control characters (NUL, newline, tab, …) or unpaired surrogates`);
}

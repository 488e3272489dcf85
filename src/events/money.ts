import { z } from 'zod';

/** ISO 4217 alphabetic code, upper case. */
export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'currency must be a three-letter ISO 4217 code in upper case');

/** Integer minor units (cents for USD), as Stripe counts them. */
export const minorUnitsSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const isoTimeSchema = z.iso.datetime({ offset: false });

/** Currencies PayPal (and Stripe) count in whole units: no minor unit. */
const zeroDecimal = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'HUF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'TWD', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);

export function minorUnitDigits(currency: string): number {
  return zeroDecimal.has(currency.toUpperCase()) ? 0 : 2;
}

/** 3499 USD → "34.99"; 500 JPY → "500". Integer arithmetic only. */
export function toDecimalAmount(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`amount must be a non-negative integer, got ${minor}`);
  const digits = minorUnitDigits(currency);
  if (digits === 0) return String(minor);
  const text = String(minor).padStart(digits + 1, '0');
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** "34.99" USD → 3499. Undefined for anything that is not an exact amount in that currency. */
export function fromDecimalAmount(value: string, currency: string): number | undefined {
  const digits = minorUnitDigits(currency);
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > digits) return undefined;
  const minor = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  return Number.isSafeInteger(minor) ? minor : undefined;
}

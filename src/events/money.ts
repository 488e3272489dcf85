import { z } from 'zod';

/** ISO 4217 alphabetic code, upper case. */
export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'currency must be a three-letter ISO 4217 code in upper case');

/** Integer minor units (cents for USD), as Stripe counts them. */
export const minorUnitsSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const isoTimeSchema = z.iso.datetime({ offset: false });

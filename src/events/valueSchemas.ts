import { z } from 'zod';
import { isIsoCurrency } from './money';

/** ISO 4217 alphabetic code, upper case. Events accept any such code, so stored events always decode. */
export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'currency must be a three-letter ISO 4217 code in upper case');

/** A currency a new price may be in: one of the active ISO 4217 currencies (see money.ts). */
export const isoCurrencySchema = currencySchema.refine(isIsoCurrency, 'currency must be an active ISO 4217 currency');

/** Integer minor units (cents for USD), as Stripe counts them. */
export const minorUnitsSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const isoTimeSchema = z.iso.datetime({ offset: false });

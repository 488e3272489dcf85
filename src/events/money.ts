/**
 * Money: integer minor units of an ISO 4217 currency, the one definition every part uses (events,
 * payments, emails, the chatbot, the web front). No imports, so the browser bundle can share it.
 *
 * Minor units follow ISO 4217, not the locale data browsers and Node format with (CLDR shows HUF,
 * IQD, COP and others without decimals) nor any provider's own convention: a provider's amounts are
 * converted at its adapter with the functions at the end of this module.
 */

/** ISO 4217 currencies with no minor unit. */
const noDecimals = ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];
/** ISO 4217 currencies with three decimals (thousandths). */
const threeDecimals = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'];

/**
 * The active ISO 4217 currencies (list one) a price can be in: fund codes (BOV, CLF, USN, …),
 * precious metals, test codes and withdrawn currencies (ANG, HRK, SLL, ZWL, …) are left out.
 */
export const isoCurrencies: readonly string[] = (
  'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC ' +
  'CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK ' +
  'JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR ' +
  'MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP ' +
  'STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG'
).split(' ');

const isoSet: ReadonlySet<string> = new Set(isoCurrencies);

export function isIsoCurrency(code: string): boolean {
  return isoSet.has(code);
}

/** Decimals of the currency's minor unit: 2 for USD, 0 for JPY and ISK, 3 for KWD. Unknown codes count as 2. */
export function minorUnitDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (noDecimals.includes(code)) return 0;
  if (threeDecimals.includes(code)) return 3;
  return 2;
}

function assertMinorUnits(minor: number): void {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`amount must be a non-negative integer, got ${minor}`);
}

/** Minor units written with `digits` decimals: (3499, 2) → "34.99". Integer arithmetic only. */
function decimalString(minor: number, digits: number): string {
  assertMinorUnits(minor);
  if (digits === 0) return String(minor);
  const text = String(minor).padStart(digits + 1, '0');
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** An exact decimal with at most `digits` decimals → integer units; undefined otherwise. */
function parseDecimal(value: string, digits: number): number | undefined {
  const match = /^(\d{1,16})(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > digits) return undefined;
  const units = Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  return Number.isSafeInteger(units) ? units : undefined;
}

/** 3499 USD → "34.99"; 500 JPY → "500"; 1234 KWD → "1.234". */
export function toDecimalAmount(minor: number, currency: string): string {
  return decimalString(minor, minorUnitDigits(currency));
}

/** "34.99" USD → 3499. Undefined for anything that is not an exact amount in that currency. */
export function fromDecimalAmount(value: string, currency: string): number | undefined {
  return parseDecimal(value, minorUnitDigits(currency));
}

/** Plain and unambiguous, for logs, prompts and messages: "19.99 USD". */
export function formatAmount(minor: number, currency: string): string {
  return `${toDecimalAmount(minor, currency)} ${currency}`;
}

// Building an Intl.NumberFormat costs far more than formatting with one.
const formats = new Map<string, Intl.NumberFormat>();

/**
 * For people: "$19.99", "1,99 €" (locale de-DE), "¥1,500", always with the currency's ISO decimals.
 * Throws a RangeError for a code Intl cannot format.
 */
export function formatMoney(minor: number, currency: string, locale = 'en-US'): string {
  const digits = minorUnitDigits(currency);
  const key = `${locale}|${currency}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
    // Currencies and locales in use are a handful; the bound only guards against surprises.
    if (formats.size < 512) formats.set(key, format);
  }
  assertMinorUnits(minor);
  // Exact for every amount a price can reach: minor units stay below 2^53.
  return format.format(minor / 10 ** digits);
}

/** Minor units → units with `toDigits` decimals, when exact; undefined when a fraction would be lost. */
function rescale(minor: number, fromDigits: number, toDigits: number): number | undefined {
  if (!Number.isSafeInteger(minor) || minor < 0) return undefined;
  if (toDigits >= fromDigits) {
    const scaled = minor * 10 ** (toDigits - fromDigits);
    return Number.isSafeInteger(scaled) ? scaled : undefined;
  }
  const divisor = 10 ** (fromDigits - toDigits);
  return minor % divisor === 0 ? minor / divisor : undefined;
}

/*
 * Stripe (docs.stripe.com/currencies): amounts are integers in Stripe's unit of the currency, which
 * is not always the ISO minor unit.
 * - Zero-decimal currencies: whole units (MGA is one, though ISO gives it two decimals).
 * - ISK and UGX have no minor unit but, for backwards compatibility, Stripe takes them as
 *   two-decimal values whose decimals are always 00: 5 ISK is 500.
 * - HUF and TWD are two-decimal for charges (only payouts must be whole units).
 * - Three-decimal currencies (BHD, JOD, KWD, OMR, TND): thousandths whose last digit must be 0.
 */
const stripeZeroDecimal = ['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];
const stripeThreeDecimal = ['BHD', 'JOD', 'KWD', 'OMR', 'TND'];

function stripeDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (stripeZeroDecimal.includes(code)) return 0;
  if (stripeThreeDecimal.includes(code)) return 3;
  return 2;
}

/** Our minor units → the amount Stripe expects; undefined when Stripe cannot charge it exactly. */
export function toStripeAmount(minor: number, currency: string): number | undefined {
  const code = currency.toUpperCase();
  const amount = rescale(minor, minorUnitDigits(code), stripeDigits(code));
  if (amount === undefined) return undefined;
  if (stripeThreeDecimal.includes(code) && amount % 10 !== 0) return undefined;
  return amount;
}

/** An amount Stripe reports (PaymentIntent, charge, refund) → our minor units; undefined when not exact. */
export function fromStripeAmount(amount: number, currency: string): number | undefined {
  const code = currency.toUpperCase();
  return rescale(amount, stripeDigits(code), minorUnitDigits(code));
}

/*
 * PayPal (REST API currency codes): amounts are decimal strings; HUF, JPY and TWD take no decimals
 * ("this currency does not support decimals"), the others their ISO decimals.
 */
const paypalNoDecimals = ['HUF', 'JPY', 'TWD'];

function paypalDigits(currency: string): number {
  const code = currency.toUpperCase();
  return paypalNoDecimals.includes(code) ? 0 : minorUnitDigits(code);
}

/** Our minor units → PayPal's `value`; undefined when PayPal cannot take the amount exactly (HUF 175.50). */
export function toPayPalValue(minor: number, currency: string): string | undefined {
  const digits = paypalDigits(currency);
  const units = rescale(minor, minorUnitDigits(currency), digits);
  return units === undefined ? undefined : decimalString(units, digits);
}

/** PayPal's `value` → our minor units; undefined for anything that is not an exact amount. */
export function fromPayPalValue(value: string, currency: string): number | undefined {
  const units = parseDecimal(value, paypalDigits(currency));
  return units === undefined ? undefined : rescale(units, paypalDigits(currency), minorUnitDigits(currency));
}

export type ChargingProvider = 'STRIPE' | 'PAYPAL';

/** True when the provider can charge (and refund) exactly this amount. */
export function providerCanCharge(provider: ChargingProvider, minor: number, currency: string): boolean {
  return provider === 'STRIPE' ? toStripeAmount(minor, currency) !== undefined : toPayPalValue(minor, currency) !== undefined;
}

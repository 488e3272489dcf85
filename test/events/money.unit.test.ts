import {
  formatAmount,
  formatMoney,
  fromDecimalAmount,
  fromPayPalValue,
  fromStripeAmount,
  isIsoCurrency,
  isoCurrencies,
  minorUnitDigits,
  providerCanCharge,
  toDecimalAmount,
  toPayPalValue,
  toStripeAmount,
} from '../../src/events/money';
import { isoCurrencySchema } from '../../src/events/valueSchemas';

/**
 * Where CLDR (what Intl formats with) gives a currency other decimals than ISO 4217. Any other
 * disagreement between the table and Intl is a mistake in the table. Node versions differ in their
 * CLDR, so a listed currency may also agree.
 */
const cldrDiffers = new Set(['AFN', 'ALL', 'COP', 'HUF', 'IDR', 'IQD', 'IRR', 'KPW', 'LAK', 'LBP', 'MGA', 'MMK', 'PKR', 'RSD', 'SOS', 'SYP', 'YER']);

const intlDigits = (currency: string): number => new Intl.NumberFormat('en-US', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;

describe('every currency the catalog accepts', () => {
  it('when a product names any currency of the table, then the catalog accepts it, and nothing outside the table', () => {
    expect(isoCurrencies.length).toBeGreaterThan(150);
    for (const currency of isoCurrencies) expect(isoCurrencySchema.safeParse(currency).success).toBe(true);
    for (const currency of ['XYZ', 'ANG', 'HRK', 'XAU', 'XTS', 'BOV', 'usd', 'USDT']) expect(isoCurrencySchema.safeParse(currency).success).toBe(false);
  });

  it.each(isoCurrencies.map((c) => [c]))('when an amount in %s is written and read as a decimal, then it comes back the same', (currency) => {
    const digits = minorUnitDigits(currency);
    expect([0, 2, 3]).toContain(digits);
    for (const minor of [0, 1, 7, 10, 99, 100, 1234, 1000, 999_999_999, Number.MAX_SAFE_INTEGER]) {
      const decimal = toDecimalAmount(minor, currency);
      expect(decimal.includes('.') ? decimal.split('.')[1]!.length : 0).toBe(digits);
      expect(fromDecimalAmount(decimal, currency)).toBe(minor);
    }
    expect(formatAmount(1, currency)).toBe(`${digits === 0 ? '1' : `0.${'1'.padStart(digits, '0')}`} ${currency}`);
  });

  it.each(isoCurrencies.map((c) => [c]))('when an amount in %s is formatted for people, then it shows the ISO decimals', (currency) => {
    const digits = minorUnitDigits(currency);
    const shown = formatMoney(123_456, currency);
    const decimals = /[.](\d+)/.exec(shown)?.[1] ?? '';
    expect(decimals.length).toBe(digits);
    expect(shown.replace(/[^0-9]/g, '')).toBe('123456');
    if (!cldrDiffers.has(currency)) expect(intlDigits(currency)).toBe(digits);
  });

  it.each(isoCurrencies.map((c) => [c]))('when an amount in %s goes to Stripe and back, then nothing is lost', (currency) => {
    for (const minor of [0, 10, 100, 5000, 123_400, 99_999_900]) {
      const stripe = toStripeAmount(minor, currency);
      if (stripe === undefined) continue;
      expect(Number.isSafeInteger(stripe)).toBe(true);
      expect(fromStripeAmount(stripe, currency)).toBe(minor);
    }
    // Every currency can charge some amount: a multiple of 100 minor units always works.
    expect(toStripeAmount(100, currency)).toBeDefined();
  });

  it.each(isoCurrencies.map((c) => [c]))('when an amount in %s goes to PayPal and back, then nothing is lost', (currency) => {
    for (const minor of [0, 100, 5000, 123_400]) {
      const value = toPayPalValue(minor, currency);
      expect(value).toBeDefined();
      expect(fromPayPalValue(value!, currency)).toBe(minor);
    }
  });
});

describe('minor units per ISO 4217', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['ISK', 0],
    ['UGX', 0],
    ['CLP', 0],
    ['HUF', 2],
    ['TWD', 2],
    ['MGA', 2],
    ['IDR', 2],
    ['KWD', 3],
    ['BHD', 3],
    ['IQD', 3],
  ])('%s has %i decimals', (currency, digits) => {
    expect(minorUnitDigits(currency)).toBe(digits);
    expect(isIsoCurrency(currency)).toBe(true);
  });

  it('when the currency is in lower case, then it is looked up the same', () => {
    expect(minorUnitDigits('jpy')).toBe(0);
    expect(minorUnitDigits('kwd')).toBe(3);
  });

  it('when a currency Intl shows without decimals has two by ISO, then people still see them', () => {
    expect(formatMoney(17_550, 'HUF')).toBe('HUF\u00a0175.50');
    expect(formatMoney(123_456, 'IQD')).toBe('IQD\u00a0123.456');
    expect(formatMoney(1250, 'ISK')).toBe('ISK\u00a01,250');
    expect(formatMoney(1250, 'TWD')).toBe('NT$12.50');
    expect(formatMoney(199, 'EUR', 'de-DE')).toBe('1,99\u00a0€');
  });
});

describe('Stripe amounts (docs.stripe.com/currencies)', () => {
  it.each([
    ['USD', 1999, 1999],
    ['JPY', 500, 500],
    // ISK and UGX have no minor unit, but Stripe takes them as two-decimal values ending in 00.
    ['ISK', 5, 500],
    ['UGX', 1000, 100_000],
    // HUF and TWD are two-decimal for charges, as in ISO 4217.
    ['HUF', 17_550, 17_550],
    ['TWD', 1250, 1250],
    // MGA is zero-decimal at Stripe, two-decimal in ISO 4217.
    ['MGA', 150_000, 1500],
    // Three-decimal currencies: thousandths, last digit 0.
    ['KWD', 1230, 1230],
  ])('when %s %i minor units are charged, then Stripe gets %i', (currency, minor, stripe) => {
    expect(toStripeAmount(minor, currency)).toBe(stripe);
    expect(fromStripeAmount(stripe, currency)).toBe(minor);
  });

  it.each([
    ['KWD', 1234],
    ['MGA', 150_050],
  ])('when %s %i minor units cannot be charged exactly by Stripe, then there is no Stripe amount', (currency, minor) => {
    expect(toStripeAmount(minor, currency)).toBeUndefined();
    expect(providerCanCharge('STRIPE', minor, currency)).toBe(false);
  });

  it('when Stripe reports an ISK amount with decimals, then it is not an exact amount', () => {
    expect(fromStripeAmount(550, 'ISK')).toBeUndefined();
  });
});

describe('PayPal amounts', () => {
  it.each([
    ['USD', 3499, '34.99'],
    ['JPY', 500, '500'],
    ['HUF', 17_500, '175'],
    ['TWD', 1200, '12'],
    ['KWD', 1234, '1.234'],
  ])('when %s %i minor units are charged, then PayPal gets "%s"', (currency, minor, value) => {
    expect(toPayPalValue(minor, currency)).toBe(value);
    expect(fromPayPalValue(value, currency)).toBe(minor);
  });

  it('when an amount has fractions PayPal does not take (175.50 HUF), then there is no PayPal value', () => {
    expect(toPayPalValue(17_550, 'HUF')).toBeUndefined();
    expect(providerCanCharge('PAYPAL', 17_550, 'HUF')).toBe(false);
    expect(fromPayPalValue('175.5', 'HUF')).toBeUndefined();
  });
});

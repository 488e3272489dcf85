import { formatMoney, positionAfter, randomId } from '../../web/src/format';

describe('web front formatting', () => {
  it('when an amount in minor units is shown, then it gets as many decimals as its currency has', () => {
    expect(formatMoney(1250, 'USD', 'en-US')).toBe('$12.50');
    expect(formatMoney(1500, 'JPY', 'en-US')).toBe('¥1,500');
    expect(formatMoney(1234, 'KWD', 'en-US')).toBe('KWD\u00a01.234');
    expect(formatMoney(199, 'EUR', 'de-DE')).toBe('1,99\u00a0€');
    expect(formatMoney(0, 'USD', 'en-US')).toBe('$0.00');
  });

  it('when the currency code is not one Intl knows, then the raw minor units are shown rather than a wrong price', () => {
    expect(formatMoney(1250, 'NOT-A-CODE', 'en-US')).toBe('1250 NOT-A-CODE (minor units)');
  });

  it('when positions exceed 2^53, then they still compare as integers', () => {
    expect(positionAfter('9007199254740993', '9007199254740992')).toBe(true);
    expect(positionAfter('9007199254740992', '9007199254740993')).toBe(false);
    expect(positionAfter('10', '9')).toBe(true);
    expect(positionAfter('5', '5')).toBe(false);
    expect(positionAfter('x', '5')).toBe(false);
  });

  it('when an idempotency key is made, then it is a fresh v4 UUID', () => {
    const keys = new Set(Array.from({ length: 50 }, () => randomId()));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

import { minimumCharge } from '../../src/commands/order/chargeMinimums';

describe('minimumCharge', () => {
  it.each([
    ['USD', 50],
    ['EUR', 50],
    ['GBP', 30],
    ['HKD', 400],
    ['MXN', 1000],
    ['CZK', 1500],
    ['JPY', 50],
    // HUF has two decimals (ISO 4217, as Stripe charges it): Stripe's minimum is 175.00 Ft.
    ['HUF', 17500],
  ])("when an order in %s is paid by STRIPE, then it must total at least %i minor units (Stripe's documented minimum)", (currency, minimum) => {
    expect(minimumCharge('STRIPE', currency)).toEqual({ amount: minimum, documented: true });
  });

  it('when Stripe documents no minimum for the currency, then at least one minor unit is required', () => {
    expect(minimumCharge('STRIPE', 'ISK')).toEqual({ amount: 1, documented: false });
  });

  it.each(['USD', 'JPY', 'EUR'])('when an order in %s is paid by PAYPAL, then one minor unit (0.01, or 1 of a currency without decimals) is the minimum', (currency) => {
    expect(minimumCharge('PAYPAL', currency)).toEqual({ amount: 1, documented: true });
  });

  it('when an order is paid by MANUAL, then a free order is allowed (nothing is charged online)', () => {
    expect(minimumCharge('MANUAL', 'USD')).toEqual({ amount: 0, documented: true });
  });

  it('when the currency is given in lower case, then it is looked up the same', () => {
    expect(minimumCharge('STRIPE', 'gbp')).toEqual(minimumCharge('STRIPE', 'GBP'));
  });
});

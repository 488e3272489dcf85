import { fromDecimalAmount } from '../../events/money';
import type { PaymentMethod } from '../../events/orderEvents';

/**
 * Stripe's documented minimum charge per presentment currency ("Minimum and maximum charge
 * amounts", docs.stripe.com/currencies), in major units. Stripe also applies its minimum after
 * converting to the account's settlement currency, so a total close to these may still be refused
 * at payment time; that failure is reported like any other provider refusal.
 */
const stripeMinimums: Readonly<Record<string, string>> = {
  USD: '0.50',
  AED: '2.00',
  AUD: '0.50',
  BGN: '1.00',
  BRL: '0.50',
  CAD: '0.50',
  CHF: '0.50',
  CZK: '15.00',
  DKK: '2.50',
  EUR: '0.50',
  GBP: '0.30',
  HKD: '4.00',
  HUF: '175',
  INR: '0.50',
  JPY: '50',
  MXN: '10.00',
  MYR: '2.00',
  NOK: '3.00',
  NZD: '0.50',
  PLN: '2.00',
  RON: '2.00',
  SEK: '3.00',
  SGD: '0.50',
  THB: '10.00',
};

export interface MinimumCharge {
  /** Minor units of the order's currency. */
  amount: number;
  /** False when the provider publishes no minimum for the currency and only "more than nothing" is enforced. */
  documented: boolean;
}

/**
 * The smallest order total a payment method can take. PayPal charges down to 0.01 (one minor unit);
 * MANUAL charges nothing online, so a free order may be confirmed by hand.
 */
export function minimumCharge(method: PaymentMethod, currency: string): MinimumCharge {
  switch (method) {
    case 'MANUAL':
      return { amount: 0, documented: true };
    case 'PAYPAL':
      return { amount: 1, documented: true };
    case 'STRIPE': {
      const code = currency.toUpperCase();
      const listed = stripeMinimums[code];
      const amount = listed === undefined ? undefined : fromDecimalAmount(listed, code);
      return amount === undefined ? { amount: 1, documented: false } : { amount, documented: true };
    }
    default: {
      const exhaustive: never = method;
      return exhaustive;
    }
  }
}

import { AppError, UnavailableError } from '../../errors';

export type ProviderMethod = 'STRIPE' | 'PAYPAL';

/** What a client needs to finish paying: Stripe's client secret or PayPal's approval page. */
export interface PaymentSession {
  /** The provider's id for this payment attempt (PaymentIntent id, PayPal order id). */
  reference: string;
  clientSecret?: string;
  paymentUrl?: string;
}

export interface RefundResult {
  /** `pending`: the provider confirms later, by webhook. */
  status: 'succeeded' | 'pending' | 'failed';
  refundId: string;
  amount: number;
  currency: string;
  failureReason?: string;
}

/**
 * One payment provider. Every call has a timeout and a bounded number of retries; the same
 * idempotency key always means the same attempt or refund at the provider.
 */
export interface PaymentProvider {
  readonly method: ProviderMethod;
  createPayment(input: { orderId: string; amount: number; currency: string; idempotencyKey: string }): Promise<PaymentSession>;
  /** The attempt again, so a client can continue it; undefined when it can no longer be paid. */
  resumePayment(reference: string): Promise<PaymentSession | undefined>;
  refund(input: { orderId: string; paymentReference: string; amount: number; currency: string; idempotencyKey: string }): Promise<RefundResult>;
}

export const providerNames: Record<ProviderMethod, string> = { STRIPE: 'Stripe', PAYPAL: 'PayPal' };

export class PaymentProviderNotConfiguredError extends UnavailableError {
  constructor(method: ProviderMethod, missing: string[]) {
    super(
      'PAYMENT_PROVIDER_NOT_CONFIGURED',
      `${providerNames[method]} payments are not configured: set ${missing.join(' and ')}`,
      { provider: method, missing },
    );
  }
}

/**
 * A provider call failed. `transient` (timeouts, network errors, 5xx, rate limits) may succeed when
 * retried with the same idempotency key; the others will not. The message is plain (which provider,
 * which operation); the provider's own words (`reason`) go to the log only, as `logDetail`.
 */
export class PaymentProviderError extends AppError {
  constructor(
    readonly method: ProviderMethod,
    readonly operation: string,
    readonly reason: string,
    readonly transient: boolean,
    readonly timedOut = false,
  ) {
    super(
      'bad_gateway',
      timedOut ? 'PAYMENT_PROVIDER_TIMEOUT' : 'PAYMENT_PROVIDER_ERROR',
      `${providerNames[method]} ${operation} failed${timedOut ? ' (timeout)' : ''}`,
      { provider: method, operation },
    );
    this.logDetail = `${providerNames[method]} ${operation}: ${reason}`;
  }

  /** The same failure with a message saying what it means for the caller's order. */
  withContext(message: string, details: Record<string, unknown>): AppError {
    const error = new AppError(this.kind, this.code, `${this.message}. ${message}`, { provider: this.method, operation: this.operation, ...details });
    error.logDetail = this.logDetail;
    return error;
  }
}

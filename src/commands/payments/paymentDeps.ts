import type { EventStore } from '../../infra/eventstore/eventStore';
import type { Logger } from '../../infra/logger';
import type { PaymentProviders } from '../../infra/payments/paymentProviders';

/** What the payment flows need: the order streams, the configured providers, a logger and the clock. */
export interface PaymentDeps {
  store: EventStore;
  providers: PaymentProviders;
  logger: Logger;
  clock: () => Date;
}

export const nowOf = (deps: Pick<PaymentDeps, 'clock'>): string => deps.clock().toISOString();

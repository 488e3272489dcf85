import type { ProviderReport } from '../../infra/payments/paymentProvider';
import type { OrderCommand } from '../order/orderDecider';

/**
 * A provider's report as an order command; the decider decides what it means for the order (a
 * payment of the wrong amount is given back, a failure of a replaced attempt is stale news, …).
 * Pure: the same report always gives the same command.
 */
export function commandForReport(report: ProviderReport, now: string): OrderCommand {
  const provider = report.provider;
  const reference = report.reference !== undefined ? { providerReference: report.reference } : {};
  switch (report.kind) {
    case 'paid':
      return { type: 'RecordPaymentSuccess', data: { provider, ...reference, amount: report.amount, currency: report.currency, now } };
    case 'failed':
    case 'cancelled':
      return { type: 'RecordPaymentFailure', data: { provider, ...reference, reason: report.reason, now } };
    case 'refunded':
      return {
        type: 'RecordRefund',
        data: {
          provider,
          ...(report.refundId !== undefined ? { providerReference: report.refundId } : {}),
          ...(report.reference !== undefined ? { paymentReference: report.reference } : {}),
          amount: report.amount,
          currency: report.currency,
          now,
        },
      };
    default: {
      const exhaustive: never = report;
      return exhaustive;
    }
  }
}

/**
 * Names a report for idempotency: the events it causes get ids derived from this, so the same
 * report delivered again (a webhook retry, the capture and its webhook) appends nothing.
 */
export function reportSource(report: ProviderReport): string {
  switch (report.via) {
    case 'webhook':
      return `${report.provider.toLowerCase()}:${report.eventId}`;
    case 'capture':
      return `${report.provider.toLowerCase()}-capture:${report.eventId}`;
    case 'refund':
      return `refund:${report.provider}:${report.eventId}`;
    default: {
      const exhaustive: never = report.via;
      return exhaustive;
    }
  }
}

import { commandForReport, reportSource } from '../../src/commands/payments/providerReports';
import type { ProviderReport } from '../../src/infra/payments/paymentProvider';

const now = '2026-03-01T10:00:00.000Z';
const orderId = '0b8f3a52-6c1d-4e7a-9f21-3d5e7c9a1b24';

describe('provider reports as order commands', () => {
  it('when a provider reports a payment, then the order is told of a payment success of that amount, from that attempt', () => {
    const report: ProviderReport = { provider: 'STRIPE', via: 'webhook', eventId: 'evt_1', orderId, kind: 'paid', reference: 'pi_1', amount: 1999, currency: 'USD' };
    expect(commandForReport(report, now)).toEqual({
      type: 'RecordPaymentSuccess',
      data: { provider: 'STRIPE', providerReference: 'pi_1', amount: 1999, currency: 'USD', now },
    });
  });

  it("when a payment failed or was cancelled, then a payment failure with the provider's reason", () => {
    for (const kind of ['failed', 'cancelled'] as const) {
      const report: ProviderReport = { provider: 'PAYPAL', via: 'webhook', eventId: 'WH-1', orderId, kind, reference: 'PP-1', reason: 'declined' };
      expect(commandForReport(report, now)).toEqual({ type: 'RecordPaymentFailure', data: { provider: 'PAYPAL', providerReference: 'PP-1', reason: 'declined', now } });
    }
  });

  it('when a failure names no attempt, then the command names none', () => {
    const report: ProviderReport = { provider: 'PAYPAL', via: 'webhook', eventId: 'WH-2', orderId, kind: 'failed', reason: 'PayPal capture denied' };
    expect(commandForReport(report, now)).toEqual({ type: 'RecordPaymentFailure', data: { provider: 'PAYPAL', reason: 'PayPal capture denied', now } });
  });

  it('when a refund is reported, then RecordRefund carries the refund id, the payment given back and the total refunded so far', () => {
    const report: ProviderReport = {
      provider: 'STRIPE',
      via: 'webhook',
      eventId: 'evt_2',
      orderId,
      kind: 'refunded',
      reference: 'pi_1',
      amount: 1999,
      currency: 'USD',
      refundId: 're_1',
    };
    expect(commandForReport(report, now)).toEqual({
      type: 'RecordRefund',
      data: { provider: 'STRIPE', providerReference: 're_1', paymentReference: 'pi_1', amount: 1999, currency: 'USD', now },
    });
  });

  it('when the same report arrives by another way, then its source differs; by the same way, it is the same', () => {
    const base = { provider: 'PAYPAL' as const, eventId: 'X1', orderId, kind: 'paid' as const, amount: 1, currency: 'USD' };
    expect(reportSource({ ...base, via: 'webhook' })).toBe('paypal:X1');
    expect(reportSource({ ...base, via: 'capture' })).toBe('paypal-capture:X1');
    expect(reportSource({ ...base, via: 'refund' })).toBe('refund:PAYPAL:X1');
    expect(reportSource({ ...base, provider: 'STRIPE', via: 'webhook' })).toBe('stripe:X1');
  });
});

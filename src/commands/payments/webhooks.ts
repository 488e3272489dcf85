import type { WebhookDelivery } from '../../infra/payments/paymentProvider';
import type { PaymentDeps } from './paymentDeps';
import { recordReport, type ReportOutcome } from './recordReport';

/**
 * A webhook delivery to `POST /payments/webhook/:provider`: the named provider's adapter verifies
 * and translates it, the report is recorded. A verified event we can never use is answered as
 * ignored (the provider stops redelivering what no retry will fix) and logged loudly enough for
 * someone to look at the provider's dashboard.
 */
export async function receiveWebhook(deps: PaymentDeps, providerName: string, delivery: WebhookDelivery): Promise<ReportOutcome> {
  const provider = deps.providers.webhookReceiver(providerName);
  const outcome = await provider.receiveWebhook(delivery);
  if (outcome.kind === 'ignored') {
    if (outcome.malformed) {
      deps.logger.error(
        { provider: providerName, eventId: outcome.eventId, eventType: outcome.eventType, problem: outcome.reason },
        'verified webhook event is malformed; ignored',
      );
    }
    return { outcome: 'ignored', reason: outcome.reason, ...(outcome.orderId ? { orderId: outcome.orderId } : {}) };
  }
  const { report } = outcome;
  return recordReport(deps, report, { actor: { type: 'provider', id: providerName }, causationId: report.eventId });
}

import { AppError } from '../../errors';
import type { EncodeContext } from '../../events/codec';
import type { ProviderReport } from '../../infra/payments/paymentProvider';
import type { OrderStream } from '../order/orderStream';
import { handleOrderCommand, type HandleResult } from '../orderCommandHandler';
import { nowOf, type PaymentDeps } from './paymentDeps';
import { commandForReport, reportSource } from './providerReports';

export interface ReportOutcome {
  /** recorded: events appended; unchanged: a duplicate or no-op; ignored: refused by the order or not ours. */
  outcome: 'recorded' | 'unchanged' | 'ignored';
  orderId?: string;
  events?: string[];
  reason?: string;
  position?: bigint;
  /** The command's result (absent when the order refused the report). */
  result?: HandleResult;
}

/** The report changes nothing in the order: a refusal to log, not an error to retry. */
function isRefusal(error: unknown): error is AppError {
  if (!(error instanceof AppError)) return false;
  return error.kind === 'not_found' || error.kind === 'validation' || (error.kind === 'conflict' && error.code !== 'CONCURRENCY_CONFLICT');
}

/** Appends what a provider's report means for its order, idempotently; refusals by the order are logged and reported as ignored. */
export async function recordReport(deps: PaymentDeps, report: ProviderReport, context: EncodeContext, options: { loaded?: OrderStream } = {}): Promise<ReportOutcome> {
  const { orderId } = report;
  const source = reportSource(report);
  try {
    const result = await handleOrderCommand(deps.store, orderId, commandForReport(report, nowOf(deps)), {
      idempotencySource: source,
      context,
      ...(options.loaded ? { loaded: options.loaded } : {}),
    });
    const position = result.position !== undefined ? { position: result.position } : {};
    if (result.unchanged) return { outcome: 'unchanged', orderId, ...position, result };
    for (const event of result.events) {
      if (event.type === 'PaymentFailed' && event.data.reason.startsWith('amount mismatch')) {
        deps.logger.warn({ orderId, source, reason: event.data.reason }, 'payment amount does not match the order; recorded as failed');
      }
      if (event.type === 'RefundRequested') {
        deps.logger.info({ orderId, source, amount: event.data.amount, currency: event.data.currency, reason: event.data.reason }, 'refund requested');
      }
    }
    return { outcome: 'recorded', orderId, events: result.events.map((e) => e.type), ...position, result };
  } catch (error) {
    if (!isRefusal(error)) throw error;
    deps.logger.warn({ orderId, source, err: { code: error.code, message: error.message } }, 'provider report refused by the order');
    return { outcome: 'ignored', orderId, reason: error.message };
  }
}

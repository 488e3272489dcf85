import type { OrderEventType } from './orderEvents';

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/**
 * upcasters[type][n] turns version n of an event's data into version n + 1.
 * The reader applies them in order.
 */
export const upcasters: Partial<Record<OrderEventType, Record<number, Upcaster>>> = {
  // v2 added an optional providerReference; a v1 refund always meant the order's own payment.
  // v3 added `stray` (the money is not the order's own payment). An older request's scope follows
  // from the order's state before it, which one event cannot tell: the order's fold resolves it
  // once (commands/order/orderStream.ts, with the decider's refundIsStray), and subscribers of
  // $all are handed it resolved the same way (decodeOrderRecords).
  RefundRequested: { 1: (data) => data, 2: (data) => data },
  // v2 added the optional sealed personalData; a v1 order carries none.
  OrderPlaced: { 1: (data) => data },
};

export function upcast(type: OrderEventType, fromVersion: number, toVersion: number, data: Record<string, unknown>): Record<string, unknown> {
  let current = data;
  for (let version = fromVersion; version < toVersion; version++) {
    const step = upcasters[type]?.[version];
    if (!step) throw new Error(`no upcaster for ${type} from version ${version} to ${version + 1}`);
    current = step(current);
  }
  return current;
}

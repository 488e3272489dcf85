import type { OrderEventType } from './orderEvents';

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/**
 * upcasters[type][n] turns version n of an event's data into version n + 1.
 * The reader applies them in order.
 */
export const upcasters: Partial<Record<OrderEventType, Record<number, Upcaster>>> = {
  // v2 added an optional providerReference; a v1 refund always meant the order's own payment.
  // v3 added the optional `stray` flag; older events leave it out and the fold infers it.
  RefundRequested: { 1: (data) => data, 2: (data) => data },
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

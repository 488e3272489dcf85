import { randomUUID } from 'node:crypto';
import type { OrderCommand } from '../../src/commands/order/orderDecider';
import type { OrderItem, PaymentMethod } from '../../src/events/orderEvents';

let clockMs = Date.parse('2026-01-01T00:00:00.000Z');

/** Strictly increasing timestamps so ordering by time is deterministic in tests. */
export function nextTime(): string {
  clockMs += 1000;
  return new Date(clockMs).toISOString();
}

export function item(overrides: Partial<OrderItem> = {}): OrderItem {
  const unitAmount = overrides.unitAmount ?? 1999;
  const quantity = overrides.quantity ?? 1;
  return {
    productId: randomUUID(),
    sku: `SKU-${randomUUID().slice(0, 8)}`,
    name: 'Widget',
    quantity,
    unitAmount,
    lineAmount: unitAmount * quantity,
    ...overrides,
  };
}

export function placeOrder(
  overrides: Partial<{ orderId: string; userId: string; items: OrderItem[]; currency: string; paymentMethod: PaymentMethod; now: string }> = {},
): Extract<OrderCommand, { type: 'PlaceOrder' }> {
  return {
    type: 'PlaceOrder',
    data: {
      orderId: overrides.orderId ?? randomUUID(),
      userId: overrides.userId ?? randomUUID(),
      items: overrides.items ?? [item()],
      currency: overrides.currency ?? 'USD',
      paymentMethod: overrides.paymentMethod ?? 'MANUAL',
      now: overrides.now ?? nextTime(),
    },
  };
}

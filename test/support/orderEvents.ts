import { randomUUID } from 'node:crypto';
import type { FulfilmentStatus, OrderEvent, OrderStatus, PaymentMethod } from '../../src/events/orderEvents';
import { item, nextTime } from './orderBuilders';

/** An order to build events for: ids, total and method, with defaults. */
export interface OrderFacts {
  orderId: string;
  userId: string;
  totalAmount: number;
  currency: string;
  paymentMethod: PaymentMethod;
}

export function anOrder(overrides: Partial<OrderFacts> = {}): OrderFacts {
  return { orderId: randomUUID(), userId: randomUUID(), totalAmount: 2500, currency: 'USD', paymentMethod: 'MANUAL', ...overrides };
}

export function orderPlaced(order: OrderFacts): OrderEvent {
  const items = [item({ unitAmount: order.totalAmount, quantity: 1 })];
  return {
    type: 'OrderPlaced',
    data: {
      orderId: order.orderId,
      userId: order.userId,
      items,
      totalAmount: order.totalAmount,
      currency: order.currency,
      paymentMethod: order.paymentMethod,
      placedAt: nextTime(),
    },
  };
}

export function paymentInitiated(order: OrderFacts, providerReference: string): OrderEvent {
  return {
    type: 'PaymentInitiated',
    data: { orderId: order.orderId, provider: order.paymentMethod, providerReference, amount: order.totalAmount, currency: order.currency, initiatedAt: nextTime() },
  };
}

export function paymentSucceeded(order: OrderFacts, providerReference?: string): OrderEvent {
  return {
    type: 'PaymentSucceeded',
    data: {
      orderId: order.orderId,
      provider: order.paymentMethod,
      ...(providerReference ? { providerReference } : {}),
      amount: order.totalAmount,
      currency: order.currency,
      succeededAt: nextTime(),
    },
  };
}

export function paymentFailed(order: OrderFacts, reason = 'card declined', providerReference?: string): OrderEvent {
  return {
    type: 'PaymentFailed',
    data: { orderId: order.orderId, provider: order.paymentMethod, ...(providerReference ? { providerReference } : {}), reason, failedAt: nextTime() },
  };
}

export function statusChanged(order: OrderFacts, from: OrderStatus, to: FulfilmentStatus): OrderEvent {
  return { type: 'OrderStatusChanged', data: { orderId: order.orderId, from, to, changedAt: nextTime() } };
}

export function refundRequested(order: OrderFacts, options: { providerReference?: string; amount?: number; stray?: boolean; reason?: string } = {}): OrderEvent {
  return {
    type: 'RefundRequested',
    data: {
      orderId: order.orderId,
      provider: order.paymentMethod,
      ...(options.providerReference ? { providerReference: options.providerReference } : {}),
      amount: options.amount ?? order.totalAmount,
      currency: order.currency,
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.stray !== undefined ? { stray: options.stray } : {}),
      requestedAt: nextTime(),
    },
  };
}

/** A paid order's events: placed, (initiated,) paid. */
export function paidOrder(order: OrderFacts, providerReference?: string): OrderEvent[] {
  return [orderPlaced(order), ...(providerReference ? [paymentInitiated(order, providerReference)] : []), paymentSucceeded(order, providerReference)];
}

import { formatAmount } from '../../events/money';
import type { OrderStatus } from '../../events/orderEvents';
import type { OrderDto } from '../orderQueries';

const statusPhrases: Record<OrderStatus, string> = {
  PENDING: 'awaiting payment',
  PAID: 'paid and waiting to be prepared',
  PROCESSING: 'being prepared',
  SHIPPED: 'shipped',
  DELIVERED: 'delivered',
  PAYMENT_FAILED: 'not paid: the payment failed and can be retried',
  CANCELLED: 'cancelled',
  REFUNDED: 'refunded',
};

/** What the model may know about one of the caller's orders: no user id, no payment reference. */
export interface OrderFact {
  orderId: string;
  status: OrderStatus;
  paymentStatus: OrderDto['paymentStatus'];
  total: string;
  refunded?: string;
  itemCount: number;
  placedAt: string;
  lastUpdatedAt: string;
  /** The caller's own shipping address, one line; "erased" after erasure. */
  shippingTo?: string;
}

function shippingTo(order: OrderDto): { shippingTo?: string } {
  if (order.personalData === 'ERASED') return { shippingTo: 'erased' };
  const a = order.shippingAddress;
  if (!a) return {};
  return { shippingTo: [a.name, a.line1, a.line2, `${a.postalCode} ${a.city}`, a.country].filter(Boolean).join(', ') };
}

export function orderFact(order: OrderDto): OrderFact {
  return {
    orderId: order.id,
    status: order.status,
    paymentStatus: order.paymentStatus,
    total: formatAmount(order.totalAmount, order.currency),
    ...(order.refundedAmount > 0 ? { refunded: formatAmount(order.refundedAmount, order.currency) } : {}),
    itemCount: order.items.reduce((n, item) => n + item.quantity, 0),
    placedAt: order.placedAt,
    lastUpdatedAt: order.updatedAt,
    ...shippingTo(order),
  };
}

/** The tool's answer about one order: the fact plus item names and quantities. */
export function orderDetail(order: OrderDto): OrderFact & { items: { name: string; quantity: number; amount: string }[] } {
  return {
    ...orderFact(order),
    items: order.items.map((item) => ({ name: item.name, quantity: item.quantity, amount: formatAmount(item.lineAmount, order.currency) })),
  };
}

export function describeOrder(order: OrderDto): string {
  const refunded = order.refundedAmount > 0 ? `, ${formatAmount(order.refundedAmount, order.currency)} refunded` : '';
  return `Order ${order.id} is ${statusPhrases[order.status]} (total ${formatAmount(order.totalAmount, order.currency)}${refunded}; placed ${order.placedAt}, last updated ${order.updatedAt}).`;
}

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const ORDER_WORD = /\b(order|orders|purchase|purchases|package|parcel|delivery|shipment)\b/i;
const STATUS_WORD =
  /\b(where|status|track|tracking|when|shipped|shipping|ship|deliver|delivered|arrive|arriving|arrived|paid|payment|cancelled|canceled|refund|refunded|progress|update|happened)\b/i;

/** Order ids mentioned in a message, lower-cased, at most `max`. */
export function orderIdsIn(message: string, max = 3): string[] {
  return [...new Set((message.match(UUID) ?? []).map((id) => id.toLowerCase()))].slice(0, max);
}

/** "where is my order?", "status of order <uuid>", "has my package shipped?" */
export function isOrderStatusQuestion(message: string): boolean {
  return orderIdsIn(message).length > 0 || (ORDER_WORD.test(message) && STATUS_WORD.test(message));
}

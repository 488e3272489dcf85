import type { ShippingAddress } from '../../commands/privacy/shippingAddress';
import { formatMoney } from '../../events/money';
import type { OrderItem, OrderEvent } from '../../events/orderEvents';

export const emailKinds = [
  'order-placed',
  'payment-received',
  'payment-failed',
  'order-shipped',
  'order-delivered',
  'order-cancelled',
  'order-refunded',
  'refund-issued',
  'return-requested',
  'return-approved',
  'return-rejected',
  'return-received',
] as const;
export type EmailKind = (typeof emailKinds)[number];

export const isEmailKind = (value: string): value is EmailKind => (emailKinds as readonly string[]).includes(value);

/** Which email, if any, an event sends to the order's owner. */
export function emailKindFor(event: OrderEvent): EmailKind | undefined {
  switch (event.type) {
    case 'OrderPlaced':
      return 'order-placed';
    case 'PaymentSucceeded':
      return 'payment-received';
    case 'PaymentFailed':
      return 'payment-failed';
    case 'OrderStatusChanged':
      if (event.data.to === 'SHIPPED') return 'order-shipped';
      if (event.data.to === 'DELIVERED') return 'order-delivered';
      return undefined;
    case 'OrderCancelled':
      return 'order-cancelled';
    case 'OrderRefunded':
      return 'order-refunded';
    case 'PaymentInitiated':
    case 'RefundRequested':
    case 'StrayPaymentRefunded':
    case 'PartialRefundRequested':
    case 'RefundRetryRequested':
    case 'RefundFailed':
    case 'CustomerDataErased':
      return undefined;
    case 'RefundSucceeded':
      return 'refund-issued';
    case 'ReturnRequested':
      return 'return-requested';
    case 'ReturnApproved':
      return 'return-approved';
    case 'ReturnRejected':
      return 'return-rejected';
    case 'ReturnReceived':
      return 'return-received';
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

function addressLines(address: ShippingAddress): string[] {
  return [
    address.name,
    address.line1,
    ...(address.line2 ? [address.line2] : []),
    `${address.postalCode} ${address.city}`,
    address.country,
    ...(address.phone ? [address.phone] : []),
  ];
}

export interface EmailContext {
  orderId: string;
  items: OrderItem[];
  totalAmount: number;
  currency: string;
  /** The event's own data: amounts, reasons. */
  event: OrderEvent;
  /** Opened for this email only; shown where the goods are going (placed, shipped). */
  shippingAddress?: ShippingAddress;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Body {
  subject: string;
  heading: string;
  lines: string[];
  showItems: boolean;
}

function bodyFor(kind: EmailKind, ctx: EmailContext): Body {
  const ref = ctx.orderId.slice(0, 8);
  const total = formatMoney(ctx.totalAmount, ctx.currency);
  const { event } = ctx;
  switch (kind) {
    case 'order-placed':
      return {
        subject: `Order ${ref} placed`,
        heading: 'Thank you for your order',
        lines: [`We have received order ${ctx.orderId}.`, `Total: ${total}. It is awaiting payment.`],
        showItems: true,
      };
    case 'payment-received': {
      const paid = event.type === 'PaymentSucceeded' ? formatMoney(event.data.amount, event.data.currency) : total;
      return {
        subject: `Payment received for order ${ref}`,
        heading: 'Payment received',
        lines: [`We received your payment of ${paid} for order ${ctx.orderId}.`, 'We will let you know when it ships.'],
        showItems: true,
      };
    }
    case 'payment-failed': {
      const reason = event.type === 'PaymentFailed' ? event.data.reason : 'the payment was declined';
      return {
        subject: `Payment failed for order ${ref}`,
        heading: 'Payment failed',
        lines: [`The payment for order ${ctx.orderId} (${total}) did not go through: ${reason}.`, 'You can try paying again.'],
        showItems: false,
      };
    }
    case 'order-shipped':
      return { subject: `Order ${ref} shipped`, heading: 'Your order is on its way', lines: [`Order ${ctx.orderId} has shipped.`], showItems: true };
    case 'order-delivered':
      return { subject: `Order ${ref} delivered`, heading: 'Your order was delivered', lines: [`Order ${ctx.orderId} has been delivered. Enjoy!`], showItems: false };
    case 'order-cancelled': {
      const reason = event.type === 'OrderCancelled' && event.data.reason ? ` Reason: ${event.data.reason}.` : '';
      return { subject: `Order ${ref} cancelled`, heading: 'Order cancelled', lines: [`Order ${ctx.orderId} (${total}) has been cancelled.${reason}`], showItems: false };
    }
    case 'order-refunded': {
      const refunded = event.type === 'OrderRefunded' ? formatMoney(event.data.amount, event.data.currency) : total;
      return {
        subject: `Refund for order ${ref}`,
        heading: 'Refund issued',
        lines: [`We refunded ${refunded} for order ${ctx.orderId}.`, 'Your bank may take a few days to show it.'],
        showItems: false,
      };
    }
    case 'refund-issued': {
      const refunded = event.type === 'RefundSucceeded' ? formatMoney(event.data.amount, event.data.currency) : total;
      const soFar = event.type === 'RefundSucceeded' ? ` (${formatMoney(event.data.refundedAmount, event.data.currency)} of ${total} refunded so far)` : '';
      return {
        subject: `Partial refund for order ${ref}`,
        heading: 'Refund issued',
        lines: [`We refunded ${refunded} for order ${ctx.orderId}${soFar}.`, 'Your bank may take a few days to show it.'],
        showItems: false,
      };
    }
    case 'return-requested':
      return {
        subject: `Return requested for order ${ref}`,
        heading: 'Return requested',
        lines: [`We received your return request for order ${ctx.orderId}.`, 'We will let you know once it is reviewed.'],
        showItems: false,
      };
    case 'return-approved':
      return {
        subject: `Return approved for order ${ref}`,
        heading: 'Return approved',
        lines: [`Your return for order ${ctx.orderId} is approved.`, 'Please send the items back; we refund them once they arrive.'],
        showItems: false,
      };
    case 'return-rejected': {
      const reason = event.type === 'ReturnRejected' ? ` Reason: ${event.data.reason}.` : '';
      return { subject: `Return declined for order ${ref}`, heading: 'Return declined', lines: [`Your return for order ${ctx.orderId} was declined.${reason}`], showItems: false };
    }
    case 'return-received':
      return {
        subject: `Return received for order ${ref}`,
        heading: 'Return received',
        lines: [`The items you returned for order ${ctx.orderId} have arrived.`, 'Your refund is on its way.'],
        showItems: false,
      };
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

/** Plain text and HTML versions of one email; every value from the order is escaped in the HTML. */
export function renderEmail(kind: EmailKind, ctx: EmailContext): RenderedEmail {
  const body = bodyFor(kind, ctx);
  const itemLines = ctx.items.map((item) => `${item.quantity} × ${item.name} — ${formatMoney(item.lineAmount, ctx.currency)}`);
  const address = ctx.shippingAddress && (kind === 'order-placed' || kind === 'order-shipped') ? addressLines(ctx.shippingAddress) : [];
  const text = [
    body.heading,
    '',
    ...body.lines,
    ...(body.showItems ? ['', ...itemLines.map((l) => `  ${l}`), `  Total: ${formatMoney(ctx.totalAmount, ctx.currency)}`] : []),
    ...(address.length > 0 ? ['', 'Shipping to:', ...address.map((l) => `  ${l}`)] : []),
    '',
    '— order-ledger',
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h1>${escapeHtml(body.heading)}</h1>`,
    ...body.lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    ...(body.showItems
      ? ['<ul>', ...itemLines.map((l) => `<li>${escapeHtml(l)}</li>`), '</ul>', `<p><strong>Total: ${escapeHtml(formatMoney(ctx.totalAmount, ctx.currency))}</strong></p>`]
      : []),
    ...(address.length > 0 ? ['<p>Shipping to:<br>', address.map(escapeHtml).join('<br>\n'), '</p>'] : []),
    '<p style="color:#888">order-ledger</p>',
    '</body></html>',
  ].join('\n');
  return { subject: body.subject, text, html };
}

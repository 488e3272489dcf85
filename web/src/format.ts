import { formatMoney as formatSharedMoney } from '../../src/events/money';
import type { OrderStatus, PaymentMethod } from './types';

/** Minor units (cents, yen, fils) to a price with the currency's ISO decimals (the browser's locale by default); the server's formatter. */
export function formatMoney(minor: number, currency: string, locale?: string): string {
  try {
    return formatSharedMoney(minor, currency, locale ?? navigatorLocale());
  } catch {
    return `${minor} ${currency} (minor units)`;
  }
}

function navigatorLocale(): string | undefined {
  return typeof navigator === 'undefined' ? undefined : navigator.language;
}

export const shortId = (id: string): string => id.slice(0, 8);

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

export const statusText = (status: OrderStatus): string => status.replace('_', ' ');

export const statusTitle: Record<OrderStatus, string> = {
  PENDING: 'Pending payment',
  PAYMENT_FAILED: 'Payment failed',
  PAID: 'Paid',
  PROCESSING: 'Processing',
  SHIPPED: 'Shipped',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
  REFUNDED: 'Refunded',
};

export const methodLabel: Record<PaymentMethod, string> = {
  MANUAL: 'Manual payment (bank transfer)',
  PAYPAL: 'PayPal',
  STRIPE: 'Card (Stripe)',
};

/** Positions are decimal strings beyond 2^53: compare them as integers. */
export function positionAfter(a: string, b: string): boolean {
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return false;
  }
}

/** A random v4 UUID; crypto.randomUUID exists only on secure origins, getRandomValues everywhere. */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The API's and the Socket.io server's wire shapes, as a client sees them (README: Real time). */

export type OrderStatus = 'PENDING' | 'PAID' | 'PROCESSING' | 'SHIPPED' | 'DELIVERED' | 'PAYMENT_FAILED' | 'CANCELLED' | 'REFUNDED';
export type PaymentMethod = 'STRIPE' | 'PAYPAL' | 'MANUAL';
export type Role = 'user' | 'admin';

export interface User {
  id: string;
  email: string;
  role: Role;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  unitAmount: number;
  currency: string;
  active: boolean;
}

export interface OrderItem {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitAmount: number;
  lineAmount: number;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  totalAmount: number;
  currency: string;
  paymentMethod: PaymentMethod;
  paymentStatus: 'PENDING' | 'INITIATED' | 'SUCCEEDED' | 'FAILED' | 'REFUND_PENDING' | 'REFUNDED';
  paymentProvider: PaymentMethod | null;
  paymentReference: string | null;
  refundedAmount: number;
  revision: number;
  position: string;
  placedAt: string;
  updatedAt: string;
  /** Shown to the owner and admins; ERASED after the customer's data was erased. */
  personalData?: 'NONE' | 'PRESENT' | 'ERASED';
  shippingAddress?: ShippingAddress | null;
  contactEmail?: string | null;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  line2?: string;
  city: string;
  postalCode: string;
  country: string;
  phone?: string;
}

export interface TimelineState {
  status: OrderStatus;
  orderId: string;
  userId: string;
  totalAmount: number;
  currency: string;
  paymentMethod: PaymentMethod;
  paymentReference: string | null;
  paidReference: string | null;
  paidAmount: number;
  refundRequested: boolean;
  strayPayments: { reference: string; amount: number; currency: string; refunded: boolean }[];
}

export interface TimelineEntry {
  position: string;
  revision: number;
  type: string;
  at: string;
  recordedAt: string;
  actor: { type: 'user' | 'admin' | 'system' | 'provider'; id: string | null };
  statusBefore: OrderStatus | null;
  statusAfter: OrderStatus;
  detail: string;
  state: TimelineState;
}

export interface Page<T> {
  status: 'success';
  data: T[];
  meta: { total: number; page: number; limit: number; nextCursor?: string | null };
}

export interface OrderCreatedPayload {
  orderId: string;
  userId: string;
  status: OrderStatus;
  totalAmount: number;
  currency: string;
  placedAt: string;
  position: string;
}

export interface OrderUpdatePayload {
  orderId: string;
  status: OrderStatus;
  previousStatus: OrderStatus | null;
  updatedAt: string;
  position: string;
}

export interface PaymentSuccessPayload {
  orderId: string;
  amount: number;
  currency: string;
}

export interface PaymentFailedPayload {
  orderId: string;
  message: string;
}

export interface AnnouncementPayload {
  message: string;
  at: string;
}

export interface ServerToClientEvents {
  orderCreated(payload: OrderCreatedPayload): void;
  orderUpdate(payload: OrderUpdatePayload): void;
  paymentSuccess(payload: PaymentSuccessPayload): void;
  paymentFailed(payload: PaymentFailedPayload): void;
  announcement(payload: AnnouncementPayload): void;
}

export type RoomAck = { ok: true; orderId: string } | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  joinOrder(payload: { orderId: string }, ack: (answer: RoomAck) => void): void;
  leaveOrder(payload: { orderId: string }, ack: (answer: RoomAck) => void): void;
}

/** Board column order: the way an order normally travels, then the ends it may take instead. */
export const BOARD_STATUSES: readonly OrderStatus[] = ['PENDING', 'PAYMENT_FAILED', 'PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED'];

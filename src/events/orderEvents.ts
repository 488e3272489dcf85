import { z } from 'zod';
import { sealedSchema } from './personalData';
import { currencySchema, isoTimeSchema, minorUnitsSchema } from './valueSchemas';

export const orderStatuses = ['PENDING', 'PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED', 'PAYMENT_FAILED', 'CANCELLED', 'REFUNDED'] as const;
export const orderStatusSchema = z.enum(orderStatuses);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

export const paymentMethods = ['STRIPE', 'PAYPAL', 'MANUAL'] as const;
export const paymentMethodSchema = z.enum(paymentMethods);
export type PaymentMethod = z.infer<typeof paymentMethodSchema>;

export const fulfilmentStatusSchema = z.enum(['PROCESSING', 'SHIPPED', 'DELIVERED']);
export type FulfilmentStatus = z.infer<typeof fulfilmentStatusSchema>;

const uuid = z.uuid();

export const orderItemSchema = z.object({
  productId: uuid,
  sku: z.string().min(1),
  name: z.string().min(1),
  quantity: z.number().int().min(1),
  unitAmount: minorUnitsSchema,
  lineAmount: minorUnitsSchema,
});
export type OrderItem = z.infer<typeof orderItemSchema>;

export const orderPlacedSchema = z.object({
  orderId: uuid,
  userId: uuid,
  items: z.array(orderItemSchema).min(1),
  totalAmount: minorUnitsSchema,
  currency: currencySchema,
  paymentMethod: paymentMethodSchema,
  placedAt: isoTimeSchema,
  /**
   * v2: shipping address and contact email sealed with the customer's data key (see personalData.ts);
   * absent when the order carries none (and on v1 events). Everything else stays clear for the audit.
   */
  personalData: sealedSchema.optional(),
});

export const paymentInitiatedSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  /** The provider's id for the payment: Stripe PaymentIntent id, PayPal order id. */
  providerReference: z.string().min(1),
  amount: minorUnitsSchema,
  currency: currencySchema,
  initiatedAt: isoTimeSchema,
});

export const paymentSucceededSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  providerReference: z.string().min(1).optional(),
  amount: minorUnitsSchema,
  currency: currencySchema,
  succeededAt: isoTimeSchema,
});

export const paymentFailedSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  providerReference: z.string().min(1).optional(),
  reason: z.string().min(1),
  failedAt: isoTimeSchema,
});

export const orderStatusChangedSchema = z.object({
  orderId: uuid,
  from: orderStatusSchema,
  to: fulfilmentStatusSchema,
  changedAt: isoTimeSchema,
});

export const orderCancelledSchema = z.object({
  orderId: uuid,
  from: orderStatusSchema,
  reason: z.string().min(1).optional(),
  cancelledAt: isoTimeSchema,
});

export const refundRequestedSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  /** v2: the provider's id for the payment to give back (Stripe PaymentIntent, PayPal order); absent for MANUAL. */
  providerReference: z.string().min(1).optional(),
  amount: minorUnitsSchema,
  currency: currencySchema,
  reason: z.string().min(1).optional(),
  /**
   * v3: true when the money is a payment the order never counted (wrong amount, duplicate, late),
   * decided by the decider when it requested the refund. Absent on v1/v2 events: the fold infers it.
   */
  stray: z.boolean().optional(),
  requestedAt: isoTimeSchema,
});

/** The provider gave back a payment the order never counted; the order itself is unchanged. */
export const strayPaymentRefundedSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  /** The refund's id at the provider. */
  providerReference: z.string().min(1).optional(),
  /** The stray payment that was given back (Stripe PaymentIntent, PayPal order). */
  paymentReference: z.string().min(1),
  amount: minorUnitsSchema,
  currency: currencySchema,
  refundedAt: isoTimeSchema,
});

export const orderRefundedSchema = z.object({
  orderId: uuid,
  provider: paymentMethodSchema,
  providerReference: z.string().min(1).optional(),
  amount: minorUnitsSchema,
  currency: currencySchema,
  refundedAt: isoTimeSchema,
});

/** A line given back, priced from the order (unit amount × quantity). */
export const refundLineSchema = z.object({ productId: uuid, quantity: z.number().int().min(1), amount: minorUnitsSchema });
export type RefundLine = z.infer<typeof refundLineSchema>;

/**
 * An admin asks for part (or the rest) of the order's payment back. Each such refund has its own id;
 * the provider call's idempotency key is this event's id (a retry's, RefundRetryRequested's).
 */
export const partialRefundRequestedSchema = z.object({
  orderId: uuid,
  refundId: uuid,
  provider: paymentMethodSchema,
  /** The payment given back (Stripe PaymentIntent, PayPal order); absent for MANUAL. */
  providerReference: z.string().min(1).optional(),
  amount: minorUnitsSchema.min(1),
  currency: currencySchema,
  /** Present when the refund gives back order lines rather than an amount. */
  lines: z.array(refundLineSchema).min(1).optional(),
  reason: z.string().min(1),
  /** The return this refund pays back, when it does. */
  returnId: uuid.optional(),
  requestedAt: isoTimeSchema,
});

/** A refund the provider refused is tried again (a new provider attempt, keyed by this event's id). */
export const refundRetryRequestedSchema = z.object({
  orderId: uuid,
  refundId: uuid,
  /** 2 for the first retry: the request itself is attempt 1. */
  attempt: z.number().int().min(2),
  amount: minorUnitsSchema.min(1),
  currency: currencySchema,
  requestedAt: isoTimeSchema,
});

/**
 * Money went back to the buyer: one of our refunds (refundId) or one the provider made on its own
 * (dashboard, dispute; no refundId). refundedAmount: the order's total given back after it.
 */
export const refundSucceededSchema = z.object({
  orderId: uuid,
  refundId: uuid.optional(),
  provider: paymentMethodSchema,
  /** The provider's id for the refund, when it gave one. */
  providerRefundId: z.string().min(1).optional(),
  amount: minorUnitsSchema.min(1),
  currency: currencySchema,
  refundedAmount: minorUnitsSchema,
  refundedAt: isoTimeSchema,
});

/** The provider refused one of our refunds; an admin may retry it. */
export const refundFailedSchema = z.object({
  orderId: uuid,
  refundId: uuid,
  /** The attempt refused (1: the request, 2+: retries). */
  attempt: z.number().int().min(1),
  provider: paymentMethodSchema,
  reason: z.string().min(1).max(500),
  failedAt: isoTimeSchema,
});

export const returnLineSchema = z.object({ productId: uuid, quantity: z.number().int().min(1) });

/**
 * Returns live in the order's stream: they give back the order's own delivered lines and are paid
 * back from the order's own payment, so the checks (window, quantities, what is left to refund)
 * and the refund are decided on one state and appended together.
 */
export const returnRequestedSchema = z.object({
  orderId: uuid,
  returnId: uuid,
  lines: z.array(returnLineSchema).min(1),
  reason: z.string().min(1),
  requestedAt: isoTimeSchema,
});

export const returnApprovedSchema = z.object({ orderId: uuid, returnId: uuid, approvedAt: isoTimeSchema });

export const returnRejectedSchema = z.object({ orderId: uuid, returnId: uuid, reason: z.string().min(1), rejectedAt: isoTimeSchema });

/** The goods are back: damaged lines are not restocked; the refund follows (PartialRefundRequested with this returnId). */
export const returnReceivedSchema = z.object({
  orderId: uuid,
  returnId: uuid,
  lines: z.array(returnLineSchema.extend({ damaged: z.boolean() })).min(1),
  receivedAt: isoTimeSchema,
});

/**
 * The customer's data key was destroyed: the order's sealed personal data can never be opened again.
 * The order itself (amounts, statuses, times) stays as it was.
 */
export const customerDataErasedSchema = z.object({
  orderId: uuid,
  userId: uuid,
  erasedAt: isoTimeSchema,
});

/** Who or what caused an event: stored in metadata, shown by the audit trail. */
export const actorSchema = z.object({
  type: z.enum(['user', 'admin', 'system', 'provider']),
  id: z.string().min(1).optional(),
});
export type Actor = z.infer<typeof actorSchema>;

export const eventMetadataSchema = z
  .object({
    schemaVersion: z.number().int().min(1),
    actor: actorSchema.optional(),
    requestId: z.string().optional(),
    causationId: z.string().optional(),
    // W3C trace context of the append (issue 14), written only when tracing is on; subscribers continue it.
    traceparent: z.string().optional(),
    tracestate: z.string().optional(),
  })
  .passthrough();
export type EventMetadata = z.infer<typeof eventMetadataSchema>;

/**
 * Every order event type, its current schema version and schema. A new field that old events lack
 * means a new version plus an upcaster in upcasters.ts; names never change.
 */
export const orderEventSchemas = {
  OrderPlaced: { version: 2, schema: orderPlacedSchema },
  PaymentInitiated: { version: 1, schema: paymentInitiatedSchema },
  PaymentSucceeded: { version: 1, schema: paymentSucceededSchema },
  PaymentFailed: { version: 1, schema: paymentFailedSchema },
  OrderStatusChanged: { version: 1, schema: orderStatusChangedSchema },
  OrderCancelled: { version: 1, schema: orderCancelledSchema },
  RefundRequested: { version: 3, schema: refundRequestedSchema },
  OrderRefunded: { version: 1, schema: orderRefundedSchema },
  StrayPaymentRefunded: { version: 1, schema: strayPaymentRefundedSchema },
  PartialRefundRequested: { version: 1, schema: partialRefundRequestedSchema },
  RefundRetryRequested: { version: 1, schema: refundRetryRequestedSchema },
  RefundSucceeded: { version: 1, schema: refundSucceededSchema },
  RefundFailed: { version: 1, schema: refundFailedSchema },
  ReturnRequested: { version: 1, schema: returnRequestedSchema },
  ReturnApproved: { version: 1, schema: returnApprovedSchema },
  ReturnRejected: { version: 1, schema: returnRejectedSchema },
  ReturnReceived: { version: 1, schema: returnReceivedSchema },
  CustomerDataErased: { version: 1, schema: customerDataErasedSchema },
} as const;

type Schemas = typeof orderEventSchemas;
export type OrderEventType = keyof Schemas;
export const orderEventTypes = Object.keys(orderEventSchemas) as OrderEventType[];

export type OrderEvent = {
  [K in OrderEventType]: { type: K; data: z.infer<Schemas[K]['schema']> };
}[OrderEventType];

export type OrderEventOf<K extends OrderEventType> = Extract<OrderEvent, { type: K }>;

export function isOrderEventType(type: string): type is OrderEventType {
  return Object.prototype.hasOwnProperty.call(orderEventSchemas, type);
}

/** The domain time an event happened (UTC ISO string), whatever its type. */
export function occurredAt(event: OrderEvent): string {
  switch (event.type) {
    case 'OrderPlaced':
      return event.data.placedAt;
    case 'PaymentInitiated':
      return event.data.initiatedAt;
    case 'PaymentSucceeded':
      return event.data.succeededAt;
    case 'PaymentFailed':
      return event.data.failedAt;
    case 'OrderStatusChanged':
      return event.data.changedAt;
    case 'OrderCancelled':
      return event.data.cancelledAt;
    case 'RefundRequested':
    case 'PartialRefundRequested':
    case 'RefundRetryRequested':
      return event.data.requestedAt;
    case 'OrderRefunded':
    case 'StrayPaymentRefunded':
    case 'RefundSucceeded':
      return event.data.refundedAt;
    case 'RefundFailed':
      return event.data.failedAt;
    case 'ReturnRequested':
      return event.data.requestedAt;
    case 'ReturnApproved':
      return event.data.approvedAt;
    case 'ReturnRejected':
      return event.data.rejectedAt;
    case 'ReturnReceived':
      return event.data.receivedAt;
    case 'CustomerDataErased':
      return event.data.erasedAt;
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

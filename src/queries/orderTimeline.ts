import { z } from 'zod';
import type { OrderState } from '../commands/order/orderDecider';
import { actorSchema, orderEventTypes, orderStatusSchema, paymentMethodSchema } from '../events/orderEvents';
import type { EventStore } from '../infra/eventstore/eventStore';
import { loadOrderReplay, type ReplayStep } from './orderReplay';

/** The decider's state after an event, as the audit shows it (absent references are null). */
export const timelineStateSchema = z.object({
  status: orderStatusSchema,
  orderId: z.uuid(),
  userId: z.uuid(),
  totalAmount: z.number().int().describe('Minor units of currency'),
  currency: z.string(),
  paymentMethod: paymentMethodSchema,
  paymentReference: z.string().nullable().describe("Provider's id of the current payment attempt"),
  paidReference: z.string().nullable().describe("Provider's id of the payment the order counts as its own"),
  paidAmount: z.number().int(),
  refundRequested: z.boolean(),
  strayPayments: z
    .array(
      z.object({
        reference: z.string().describe("Provider's id of the payment"),
        amount: z.number().int().describe('Minor units of currency'),
        currency: z.string(),
        refunded: z.boolean().describe('The provider confirmed it was given back'),
      }),
    )
    .describe('Payments the order never counted (wrong amount, duplicate, late), given back'),
});
export type TimelineState = z.infer<typeof timelineStateSchema>;

export const timelineEntrySchema = z.object({
  position: z.string().describe('Global position of the event (decimal string)'),
  revision: z.number().int().describe('Revision of the order stream after this event (the ETag an If-Match would name)'),
  type: z.enum(orderEventTypes),
  at: z.iso.datetime().describe('When it happened, as the event says'),
  recordedAt: z.iso.datetime().describe('When the event store recorded it'),
  actor: z.object({ type: actorSchema.shape.type, id: z.string().nullable() }),
  statusBefore: orderStatusSchema.nullable().describe('null for the event that placed the order'),
  statusAfter: orderStatusSchema,
  detail: z.string().describe('What the event carried, in one line'),
  state: timelineStateSchema.describe("The order's state right after this event"),
});
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

function publicState(state: Exclude<OrderState, { status: 'NONE' }>): TimelineState {
  return {
    status: state.status,
    orderId: state.orderId,
    userId: state.userId,
    totalAmount: state.totalAmount,
    currency: state.currency,
    paymentMethod: state.paymentMethod,
    paymentReference: state.paymentReference ?? null,
    paidReference: state.paidReference ?? null,
    paidAmount: state.paidAmount,
    refundRequested: state.refundRequested,
    strayPayments: state.strayPayments.map((stray) => ({ ...stray })),
  };
}

function toEntry(step: ReplayStep & { after: Exclude<OrderState, { status: 'NONE' }> }): TimelineEntry {
  return {
    position: step.stored.position.toString(),
    revision: Number(step.stored.revision),
    type: step.stored.event.type,
    at: step.time,
    recordedAt: step.stored.createdAt,
    actor: step.actor,
    statusBefore: step.before.status === 'NONE' ? null : step.before.status,
    statusAfter: step.after.status,
    detail: step.detail,
    state: publicState(step.after),
  };
}

const placed = (step: ReplayStep): step is ReplayStep & { after: Exclude<OrderState, { status: 'NONE' }> } => step.after.status !== 'NONE';

/**
 * Every event of an order with the state after it, replayed from the event store (the HTTP
 * counterpart of `order-ledger audit replay`). Undefined when the order does not exist or belongs to
 * someone else (unless `userId` is undefined: admins see every order).
 */
export async function getOrderTimeline(store: EventStore, orderId: string, scope: { userId?: string }): Promise<TimelineEntry[] | undefined> {
  const { steps, state } = await loadOrderReplay(store, orderId);
  if (state.status === 'NONE') return undefined;
  if (scope.userId !== undefined && state.userId !== scope.userId) return undefined;
  // A stream always starts with OrderPlaced; a step before it (none in practice) has no order to show.
  return steps.filter(placed).map(toEntry);
}

import { z } from 'zod';
import '../openapi';
import { OrderNotFoundError } from '../../../commands/order/orderErrors';
import { getOrderTimeline, timelineEntrySchema } from '../../../queries/orderTimeline';
import type { Deps } from '../../deps';
import { placeholder, UNKNOWN_ID } from '../examples';
import { defineRoute, type RouteDeps } from '../route';

const orderIdParams = z.object({ id: z.uuid().openapi({ description: 'Order id' }) });
const timelineResponseSchema = z.object({ status: z.literal('success'), data: z.array(timelineEntrySchema.openapi('OrderTimelineEntry')) }).openapi('OrderTimelineResponse');

export function registerTimelineRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'get',
    path: '/orders/:id/timeline',
    summary: 'Every event of an order with the state after it, replayed from the event store (owner or admin); the HTTP form of `order-ledger audit replay`',
    tags: ['Orders'],
    access: 'user',
    params: orderIdParams,
    example: { params: { id: placeholder('orderId') } },
    responses: {
      200: { description: 'The timeline, oldest event first', schema: timelineResponseSchema },
      404: { description: 'No such order for this user', code: 'ORDER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
    },
    handler: async ({ params, user }) => {
      const timeline = await getOrderTimeline(deps.store, params.id, user!.role === 'admin' ? {} : { userId: user!.id });
      if (!timeline) throw new OrderNotFoundError(params.id);
      return { status: 200, body: { status: 'success', data: timeline } };
    },
  });
}

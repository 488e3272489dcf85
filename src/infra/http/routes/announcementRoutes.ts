import { z } from 'zod';
import '../openapi';
import { UnavailableError } from '../../../errors';
import type { Deps } from '../../deps';
import { defineRoute, type RouteDeps } from '../route';

const announcementBodySchema = z
  .object({ message: z.string().trim().min(1).max(1000) })
  .strict()
  .openapi('AnnouncementRequest');
const announcementResponseSchema = z.object({ status: z.literal('success'), data: z.object({ message: z.string(), at: z.iso.datetime() }) }).openapi('AnnouncementResponse');

export function registerAnnouncementRoutes(routes: RouteDeps, deps: Deps): void {
  defineRoute(routes, {
    method: 'post',
    path: '/announcements',
    summary: 'Push an announcement to every connected Socket.io client, on every API instance (admin)',
    tags: ['Realtime'],
    access: 'admin',
    body: announcementBodySchema,
    example: { body: { message: 'Orders placed today ship on Monday.' } },
    responses: {
      202: { description: 'Announcement sent', schema: announcementResponseSchema },
      400: {
        description: 'Empty message',
        code: 'VALIDATION_FAILED',
        message: 'Invalid body: message Too small: expected string to have >=1 characters',
        request: { body: { message: ' ' } },
      },
      503: { description: 'Socket.io is not running in this process', code: 'REALTIME_UNAVAILABLE' },
    },
    handler: async ({ body }) => {
      const io = deps.sockets?.io;
      if (!io) throw new UnavailableError('REALTIME_UNAVAILABLE', 'Socket.io is not running in this process');
      const announcement = { message: body.message, at: deps.clock().toISOString() };
      io.emit('announcement', announcement);
      return { status: 202, body: { status: 'success', data: announcement } };
    },
  });
}

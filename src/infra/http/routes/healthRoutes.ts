import { z } from 'zod';
import '../openapi';
import type { Deps } from '../../deps';
import { readiness } from '../../ops/readiness';
import { defineRoute, type RouteDeps } from '../route';

const healthSchema = z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }).openapi('Health');
const checkSchema = z.object({ ok: z.boolean() }).describe('Why a check failed goes to the log, never into this public answer');
const readySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ database: checkSchema, redis: checkSchema, eventStore: checkSchema.extend({ kind: z.string() }) }),
    projector: z.object({
      role: z.enum(['running', 'standby', 'failed', 'stopped', 'elsewhere']),
      projectedPosition: z.string(),
      headPosition: z.string().nullable(),
      lag: z.string().nullable().describe('Head position minus projected position (positions are not dense: 0 means caught up, not an event count)'),
      caughtUp: z.boolean().nullable(),
    }),
  })
  .openapi('Readiness');

export function registerHealthRoutes(routes: RouteDeps, deps: Deps): void {
  const started = Date.now();
  defineRoute(routes, {
    method: 'get',
    path: '/health',
    summary: 'Liveness: the process is up',
    tags: ['Operations'],
    access: 'public',
    example: {},
    responses: { 200: { description: 'Alive', schema: healthSchema } },
    handler: async () => ({ status: 200, body: { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) } }),
  });

  defineRoute(routes, {
    method: 'get',
    path: '/ready',
    summary: 'Readiness: database, Redis and event store reachable; projector lag',
    tags: ['Operations'],
    access: 'public',
    example: {},
    responses: { 200: { description: 'Ready', schema: readySchema }, 503: { description: 'A dependency is unreachable', schema: readySchema } },
    handler: () => readiness(deps),
  });
}

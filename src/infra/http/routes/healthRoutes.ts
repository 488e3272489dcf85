import { z } from 'zod';
import '../openapi';
import type { Deps } from '../../deps';
import { defineRoute, type RouteDeps } from '../route';

const healthSchema = z.object({ status: z.literal('ok'), uptimeSeconds: z.number() }).openapi('Health');
const checkSchema = z.object({ ok: z.boolean(), error: z.string().optional() });
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

async function check(fn: () => Promise<unknown>, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message.split('\n')[0] ?? 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(routes: RouteDeps, deps: Deps): void {
  const started = Date.now();
  defineRoute(routes, {
    method: 'get',
    path: '/health',
    summary: 'Liveness: the process is up',
    tags: ['Operations'],
    access: 'public',
    responses: { 200: { description: 'Alive', schema: healthSchema } },
    handler: async () => ({ status: 200, body: { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000) } }),
  });

  defineRoute(routes, {
    method: 'get',
    path: '/ready',
    summary: 'Readiness: database, Redis and event store reachable; projector lag',
    tags: ['Operations'],
    access: 'public',
    responses: { 200: { description: 'Ready', schema: readySchema }, 503: { description: 'A dependency is unreachable', schema: readySchema } },
    handler: async () => {
      const [database, redis, eventStore] = await Promise.all([
        check(() => deps.knex.raw('select 1'), 2000),
        check(() => deps.redis.ping(), 2000),
        check(() => deps.store.ping(), 2000),
      ]);
      let head: bigint | undefined;
      if (eventStore.ok) head = await deps.store.headPosition().catch(() => undefined);
      const projected = database.ok ? await deps.waiter.current().catch(() => deps.waiter.position) : deps.waiter.position;
      const ok = database.ok && redis.ok && eventStore.ok && deps.projector?.status !== 'failed';
      return {
        status: ok ? 200 : 503,
        body: {
          status: ok ? 'ready' : 'not_ready',
          checks: { database, redis, eventStore: { ...eventStore, kind: deps.store.kind } },
          projector: {
            role: deps.projector ? deps.projector.status : 'elsewhere',
            projectedPosition: projected.toString(),
            headPosition: head === undefined ? null : head.toString(),
            lag: head === undefined ? null : (head > 0n && head > projected ? head - projected : 0n).toString(),
            caughtUp: head === undefined ? null : head === 0n || projected >= head,
          },
        },
      };
    },
  });
}

import { z } from 'zod';
import '../openapi';
import type { Deps } from '../../deps';
import type { Logger } from '../../logger';
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

async function check(name: string, fn: () => Promise<unknown>, timeoutMs: number, logger: Logger): Promise<{ ok: boolean }> {
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
    // Drivers name hosts, databases and states in their messages: fine for operators, not for anyone asking /ready.
    logger.warn({ check: name, err: { code: (error as { code?: unknown }).code, message: (error as Error).message?.split('\n')[0] } }, 'readiness check failed');
    return { ok: false };
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
        check('database', () => deps.knex.raw('select 1'), 2000, deps.logger),
        check('redis', () => deps.redis.ping(), 2000, deps.logger),
        check('eventStore', () => deps.store.ping(), 2000, deps.logger),
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

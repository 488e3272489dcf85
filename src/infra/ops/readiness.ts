import type { Deps } from '../deps';
import type { Logger } from '../logger';

export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: { database: { ok: boolean }; redis: { ok: boolean }; eventStore: { ok: boolean; kind: string } };
  projector: {
    role: 'running' | 'standby' | 'failed' | 'stopped' | 'elsewhere';
    projectedPosition: string;
    headPosition: string | null;
    lag: string | null;
    caughtUp: boolean | null;
  };
}

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

/**
 * Database, Redis and event store reachable, and where the read models stand: what `/ready`
 * answers on the API port and on the operations port alike. 503 when a dependency is unreachable
 * or this process's projector has failed.
 */
export async function readiness(deps: Pick<Deps, 'knex' | 'redis' | 'store' | 'waiter' | 'projector' | 'logger'>): Promise<{ status: 200 | 503; body: Readiness }> {
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
}

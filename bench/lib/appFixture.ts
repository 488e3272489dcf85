import { randomUUID } from 'node:crypto';
import { createTokenService } from '../../src/infra/http/authTokens';
import { createUser } from '../../src/commands/accounts/users';
import { createProduct } from '../../src/commands/products';
import { createBenchDatabase, type BenchDatabase } from './benchDb';
import { build } from './build';
import { appEnv, BENCH_JWT_SECRET, onInterrupt, startChild, type AppEnv, type ChildServer } from './childServer';

export interface BenchUser {
  id: string;
  email: string;
  token: string;
}

export interface AppFixture {
  db: BenchDatabase;
  env: AppEnv;
  productId: string;
  /** A user written straight to the table, with a signed token. */
  user(label: string): Promise<BenchUser>;
  /** Starts the app (every role) in a child process; stopped by close(). */
  startApp(options?: { nodeArgs?: string[]; env?: Record<string, string>; entry?: 'app' | 'claimsOnlyApp' }): Promise<ChildServer>;
  /** Stops every child, deletes the Redis keys and the outbox, drops the database. Safe to call twice. */
  close(): Promise<void>;
}

const tokens = createTokenService(BENCH_JWT_SECRET, 3600);

/** A bench database with one catalog product, and the app's child-process configuration for it. */
export async function createAppFixture(label: string, envOverrides: Record<string, string> = {}): Promise<AppFixture> {
  const db = await createBenchDatabase(label);
  const children: ChildServer[] = [];
  let env: AppEnv | undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      await Promise.allSettled(children.map((c) => c.stop()));
      await env?.cleanup();
      await db.drop();
    })();
    return closed;
  };
  const unregister = onInterrupt(close);
  try {
    env = await appEnv(db.url, envOverrides);
    const product = await createProduct(db.knex, { sku: `SKU-BENCH-${randomUUID().slice(0, 8)}`, name: 'Bench widget', unitAmount: 1999, currency: 'USD' }, new Date());
    const appEnvironment = env;
    return {
      db,
      env: appEnvironment,
      productId: product.id,
      async user(name) {
        const created = await createUser(db.knex, { email: `${name}-${randomUUID().slice(0, 8)}@bench.test`, password: `pw-${randomUUID()}`, role: 'user' }, { bcryptRounds: 4 });
        return { id: created.id, email: created.email, token: tokens.sign(created).token };
      },
      async startApp(options = {}) {
        const child = await startChild({
          label: `${label} ${options.entry ?? 'app'}`,
          args: (await build())[options.entry ?? 'app'].args,
          env: { ...appEnvironment.env, ...(options.env ?? {}) },
          nodeArgs: options.nodeArgs ?? [],
        });
        children.push(child);
        return child;
      },
      async close() {
        unregister();
        await close();
      },
    };
  } catch (error) {
    unregister();
    await close();
    throw error;
  }
}

export function bearer(user: BenchUser): Record<string, string> {
  return { authorization: `Bearer ${user.token}` };
}

// The reference of figure 4's per-request account check: the app as `npm start` runs it, except
// that a valid token is taken at its word (RuntimeOptions.trustTokenClaims), as the API did before
// accounts were checked. Compiled and started like the app; never part of the product.
import { ConfigError, loadConfig } from '../src/infra/config/config';
import { createLogger } from '../src/infra/logger';
import { startRuntime } from '../src/infra/runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await startRuntime(config, { logger: createLogger(config.LOG_LEVEL), trustTokenClaims: true });
  const stop = (): void => {
    runtime.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String((error as Error).stack ?? error)}\n`);
  process.exit(1);
});

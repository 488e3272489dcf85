import { ConfigError, loadConfig, type Config } from './infra/config/config';
import { environmentWithEnvFile } from './infra/config/envFile';
import { createLogger } from './infra/logger';
import { tracingRequested } from './infra/tracing/tracingSettings';
import type * as RuntimeModule from './infra/runtime';
import type * as TracingModule from './infra/tracing/startTracing';

async function main(): Promise<void> {
  let env: NodeJS.ProcessEnv;
  let config: Config;
  try {
    env = environmentWithEnvFile();
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL);
  // Tracing off: the SDK is never loaded. On: it must hook express, pg and ioredis before their
  // first require, so the runtime (which requires them) is loaded only after it has started.
  const tracing = tracingRequested(config)
    ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- must load after the decision, see above
      (require('./infra/tracing/startTracing') as typeof TracingModule).startTracing(env, { serviceName: config.OTEL_SERVICE_NAME })
    : undefined;
  if (tracing) logger.info({ serviceName: config.OTEL_SERVICE_NAME, exporter: config.OTEL_TRACES_EXPORTER ?? 'otlp' }, 'tracing on');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the SDK hooked require, see above
  const { startRuntime } = require('./infra/runtime') as typeof RuntimeModule;
  const runtime = await startRuntime(config, { logger, ...(tracing ? { tracing: tracing.events } : {}) });
  let signals = 0;
  const shutdown = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    deadline.unref();
    runtime
      .stop()
      // The spans of the last requests leave before the process does.
      .then(() => tracing?.shutdown().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'trace export at shutdown failed')))
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`order-ledger failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});

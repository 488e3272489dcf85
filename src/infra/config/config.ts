import { z } from 'zod';
import { senderDomain } from '../mail/address';
import { DEFAULT_SNAPSHOT_EVERY } from '../eventstore/snapshotStore';

const boolFromString = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const durationUnits = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90s`, `30m`, `2h`, `1d` (or `500ms`) as milliseconds, between `min` and `max` ms. */
function durationSchema(min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(raw.trim());
    const ms = match ? Number(match[1]) * durationUnits[match[2] as keyof typeof durationUnits] : NaN;
    if (!Number.isFinite(ms) || ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like 30m, 90s, 2h or 1d, between ${min / 1000}s and ${max / 86_400_000}d; got "${raw}"` });
      return z.NEVER;
    }
    return ms;
  });
}

const roleSchema = z.enum(['api', 'projector', 'notifier', 'worker']);
export type ProcessRole = z.infer<typeof roleSchema>;

/**
 * Every variable the process reads. Parsed once at start-up; nothing else reads process.env.
 * Optional provider keys stay undefined so the features that need them can say which is missing.
 */
export const configSchema = z
  .object({
    // Read by environmentWithEnvFile before this schema; listed so it is documented and validated.
    ENV_FILE: z.string().default('.env'),
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('0.0.0.0'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ROLES: z
      .string()
      .default('api,projector,notifier,worker')
      .transform((s, ctx) => {
        const roles = s
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
        const parsed: ProcessRole[] = [];
        for (const role of roles) {
          const result = roleSchema.safeParse(role);
          if (!result.success) {
            ctx.addIssue({ code: 'custom', message: `unknown role "${role}" (expected api, projector, notifier, worker)` });
            return z.NEVER;
          }
          parsed.push(result.data);
        }
        if (parsed.length === 0) {
          ctx.addIssue({ code: 'custom', message: 'at least one role is required' });
          return z.NEVER;
        }
        return [...new Set(parsed)];
      }),
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/order_ledger'),
    MIGRATE_ON_START: boolFromString.default(true),
    DATABASE_POOL_MAX: z.coerce.number().int().min(2).max(200).default(20),
    DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
    REDIS_URL: z.string().url().optional(),
    REDIS_HOST: z.string().default('127.0.0.1'),
    REDIS_PORT: z.coerce.number().int().min(1).max(65535).default(6379),
    REDIS_PASSWORD: z.string().optional(),
    REDIS_DB: z.coerce.number().int().min(0).max(15).default(0),
    REDIS_KEY_PREFIX: z.string().default('order-ledger:'),
    EVENTSTORE_CONNECTION_STRING: z.string().optional(),
    JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
    JWT_EXPIRES_IN_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .default(3600),
    AUTH_STATE_TTL_MS: z.coerce.number().int().min(100).max(600_000).default(4000),
    BCRYPT_ROUNDS: z.coerce.number().int().min(4).max(15).default(12),
    CORS_ORIGINS: z.string().default(''),
    JSON_BODY_LIMIT: z.string().default('100kb'),
    RATE_LIMIT_WINDOW_MS: z.coerce
      .number()
      .int()
      .min(1000)
      .default(15 * 60 * 1000),
    RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(100),
    LOGIN_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(10),
    SOCKET_MAX_MESSAGE_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(4096),
    SOCKET_EVENT_RATE: z.coerce.number().int().min(1).max(10_000).default(10),
    SOCKET_EVENT_BURST: z.coerce.number().int().min(1).max(10_000).default(20),
    SOCKET_MAX_PENDING_CHECKS: z.coerce.number().int().min(1).max(1000).default(10),
    SOCKET_REFUSALS_BEFORE_DISCONNECT: z.coerce.number().int().min(1).max(10_000).default(20),
    SOCKET_USER_EVENT_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(100),
    SOCKET_USER_EVENT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
    SOCKET_USER_CONNECTS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),
    SOCKET_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10),
    CONSISTENCY_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(2000),
    PROJECTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
    EVENTSTORE_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
    SNAPSHOT_EVERY: z.coerce.number().int().min(0).max(100_000).default(DEFAULT_SNAPSHOT_EVERY),
    STRIPE_SECRET_KEY: z.string().optional(),
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    STRIPE_API_HOST: z.string().optional(),
    STRIPE_API_PORT: z.coerce.number().int().optional(),
    STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
    PAYPAL_CLIENT_ID: z.string().optional(),
    PAYPAL_CLIENT_SECRET: z.string().optional(),
    PAYPAL_WEBHOOK_ID: z.string().optional(),
    PAYPAL_API_BASE: z.string().url().default('https://api-m.sandbox.paypal.com'),
    PAYMENT_RETURN_URL: z.string().url().default('http://localhost:3000/payments/paypal/return'),
    PAYMENT_CANCEL_URL: z.string().url().default('http://localhost:3000/payments/paypal/cancel'),
    PAYMENT_RESULT_URL: z.string().url().optional(),
    PAYPAL_RETURN_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(30),
    ORDER_PAYMENT_TTL: durationSchema(1000, 30 * 86_400_000).default(30 * 60_000),
    ORDER_EXPIRY_CHECK_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
    PAYMENT_REFUND_RETRY_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
    RETURN_WINDOW_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
    OPEN_ROUTER_KEY: z.string().optional(),
    OPEN_ROUTER_BASE_URL: z.string().url().default('https://openrouter.ai/api/v1'),
    OPEN_ROUTER_MODEL: z.string().default('openai/gpt-3.5-turbo'),
    CHATBOT_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(20),
    CHATBOT_MAX_MESSAGE_CHARS: z.coerce.number().int().min(1).max(20_000).default(1000),
    CHATBOT_MAX_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
    CHATBOT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(25_000),
    SMTP_URL: z.string().optional(),
    MAIL_FROM: z
      .string()
      .default('order-ledger <no-reply@order-ledger.local>')
      .refine((value) => senderDomain(value) !== undefined, 'MAIL_FROM must hold an address with a domain, e.g. "Shop <no-reply@shop.example>"'),
    EMAIL_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    MAIL_OUTBOX_DIR: z.string().default('mail-outbox'),
    HTTP_CLIENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    TRUST_PROXY: boolFromString.default(false),
    // Operations (issue 14): probes and metrics, optionally on a port of their own.
    OPS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    OPS_HOST: z.string().optional(),
    METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
    QUEUE_DASHBOARD_RATE_LIMIT_MAX: z.coerce.number().int().min(1).default(1000),
    // Traces (issue 14): the standard OpenTelemetry variables this service honours. The SDK reads
    // them itself; they are listed here so a typo stops the process instead of silently not tracing.
    OTEL_SDK_DISABLED: boolFromString.default(false),
    OTEL_SERVICE_NAME: z.string().min(1).default('order-ledger'),
    OTEL_TRACES_EXPORTER: z
      .string()
      .regex(/^\s*(otlp|console|none)\s*(,\s*(otlp|console|none)\s*)*$/, 'OTEL_TRACES_EXPORTER must list otlp, console or none (comma-separated)')
      .optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, e.g. http://collector:4318' }).optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
      .url({ protocol: /^https?$/, message: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL, e.g. http://collector:4318/v1/traces' })
      .optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).default('http/protobuf'),
    OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
    OTEL_EXPORTER_OTLP_TIMEOUT: z.coerce.number().int().min(100).max(120_000).default(10_000),
    OTEL_TRACES_SAMPLER: z
      .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
      .default('parentbased_always_on'),
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
    // Personal data (issue 18): the master key wrapping every customer's data key.
    PII_MASTER_KEY: z.string().optional(),
    PII_PREVIOUS_MASTER_KEYS: z.string().optional(),
    PII_MASTER_KEY_FILE: z.string().default('.order-ledger/pii-master-key'),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.NODE_ENV === 'production' && !cfg.JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'JWT_SECRET is required when NODE_ENV=production' });
    }
    if (cfg.NODE_ENV === 'production' && !cfg.PII_MASTER_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['PII_MASTER_KEY'],
        message: 'PII_MASTER_KEY is required when NODE_ENV=production (32 random bytes, base64: `openssl rand -base64 32`)',
      });
    }
    for (const name of ['PII_MASTER_KEY', 'PII_PREVIOUS_MASTER_KEYS'] as const) {
      for (const text of (cfg[name] ?? '').split(',').filter((s) => s.trim() !== '')) {
        const trimmed = text.trim();
        const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? 32 : Buffer.from(trimmed, 'base64').length;
        if (bytes !== 32 || (name === 'PII_MASTER_KEY' && cfg[name]!.includes(','))) {
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `${name} must be 32 random bytes as base64 or 64 hex digits${name === 'PII_PREVIOUS_MASTER_KEYS' ? ', comma-separated' : ''}`,
          });
          break;
        }
      }
    }
    if (cfg.OPS_PORT !== undefined && cfg.OPS_PORT !== 0 && cfg.OPS_PORT === cfg.PORT && cfg.ROLES.includes('api')) {
      ctx.addIssue({ code: 'custom', path: ['OPS_PORT'], message: 'OPS_PORT must differ from PORT (leave it unset to serve the probes and /metrics on PORT)' });
    }
  });

export type Config = z.infer<typeof configSchema> & { jwtSecret: string };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// A fixed development secret keeps the two-command quick start working; production refuses it.
const DEVELOPMENT_JWT_SECRET = 'order-ledger-development-secret-do-not-use-in-production';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(defined);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(config)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...result.data, jwtSecret: result.data.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET };
}

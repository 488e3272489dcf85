import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Knex } from '../../src/infra/db/knex';

export const REPO_ROOT = path.join(__dirname, '..', '..');
export const BENCH_JWT_SECRET = 'order-ledger-bench-secret-0123456789abcdef';

/** Every child this process started and has not yet seen exit: killed on exit or on a signal. */
const live = new Set<ChildProcess>();
/** Asynchronous clean-ups (databases, Redis keys, temp folders) run on SIGINT/SIGTERM before exiting. */
const cleanups = new Set<() => Promise<void>>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`[bench] ${signal}: killing ${live.size} child process(es) and cleaning up\n`);
    for (const child of live) child.kill('SIGKILL');
    const bounded = Promise.race([Promise.allSettled([...cleanups].map((c) => c())), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    void bounded.finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Registers a clean-up that also runs if the bench is interrupted; call the returned function to unregister. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  installHandlers();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Memory {
  /** Resident set now (VmRSS), MB. */
  rssMb: number;
  /** Peak resident set since the process started (VmHWM), MB. */
  hwmMb: number;
}

/** VmRSS and VmHWM of a live process from /proc; undefined once it has gone. */
export function readMemory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined once it has gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100;

/**
 * CPU seconds used so far by each PostgreSQL backend connected to the database `knex` uses, by
 * pid: other databases' work on the same server (other benches, test runs) is left out. With
 * `applicationName`, only the backends of that application (or all but it), when servers share a database.
 */
export async function backendCpuSeconds(knex: Knex, applicationName?: { is?: string; isNot?: string }): Promise<Map<number, number>> {
  const rows = (await knex.raw(
    `select pid from pg_stat_activity where datname = current_database()
       and (?::text is null or application_name = ?) and (?::text is null or application_name is distinct from ?)`,
    [applicationName?.is ?? null, applicationName?.is ?? null, applicationName?.isNot ?? null, applicationName?.isNot ?? null],
  )) as { rows: { pid: number }[] };
  const cpu = new Map<number, number>();
  for (const { pid } of rows.rows) {
    const seconds = cpuSeconds(pid);
    if (seconds !== undefined) cpu.set(pid, seconds);
  }
  return cpu;
}

/** CPU the backends spent between two readings (backends that came and went in between are missed). */
export function backendCpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

export interface ChildServer {
  label: string;
  pid: number;
  url: string;
  memory(): Memory | undefined;
  cpuSeconds(): number | undefined;
  /** Last lines the child wrote to stdout/stderr (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartChildOptions {
  label: string;
  /** Run as `node [nodeArgs] <args>`: one process, so its pid is the server's. */
  args: string[];
  env: Record<string, string>;
  nodeArgs?: string[];
  /** Polled until it answers 200. */
  readyPath?: string;
  readyTimeoutMs?: number;
}

/** Starts a server in a child process on a free loopback port and waits until it answers. */
export async function startChild(options: StartChildOptions): Promise<ChildServer> {
  installHandlers();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...options.args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ENV_FILE: 'none', ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
  });

  const server: ChildServer = {
    label: options.label,
    pid: child.pid!,
    url,
    memory: () => readMemory(child.pid!),
    cpuSeconds: () => cpuSeconds(child.pid!),
    output: () => tail,
    async stop(graceMs = 15_000) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (hasExited) throw new Error(`${options.label} exited before it was ready:\n${tail}`);
    try {
      const res = await fetch(`${url}${options.readyPath ?? '/health'}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop(2000);
      throw new Error(`${options.label} was not ready within ${options.readyTimeoutMs ?? 60_000} ms:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface AppEnv {
  env: Record<string, string>;
  prefix: string;
  /** Removes the Redis keys under the prefix and the mail outbox folder. */
  cleanup(): Promise<void>;
}

/**
 * Configuration for the app in a child process: its own bench database, every role, quiet logs,
 * rate limits out of the way, cheap bcrypt, a Redis key prefix and mail outbox of its own.
 */
export async function appEnv(databaseUrl: string, overrides: Record<string, string> = {}): Promise<AppEnv> {
  const prefix = `ol-bench:${randomBytes(6).toString('hex')}:`;
  const outbox = await mkdtemp(path.join(os.tmpdir(), 'ol-bench-outbox-'));
  const env = {
    NODE_ENV: 'production',
    ROLES: 'api,projector,notifier,worker',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: '6379',
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: BENCH_JWT_SECRET,
    PII_MASTER_KEY: randomBytes(32).toString('base64'),
    BCRYPT_ROUNDS: '4',
    RATE_LIMIT_MAX: '100000000',
    LOGIN_RATE_LIMIT_MAX: '100000000',
    CONSISTENCY_WAIT_MS: '10000',
    MAIL_OUTBOX_DIR: outbox,
    // Empty is unset: whatever the caller's environment holds, everything stays on loopback.
    REDIS_URL: '',
    SMTP_URL: '',
    EVENTSTORE_CONNECTION_STRING: '',
    ...overrides,
  };
  return {
    env,
    prefix,
    async cleanup() {
      await deleteRedisKeys(prefix).catch((error: unknown) => process.stderr.write(`[bench] could not delete Redis keys ${prefix}*: ${String(error)}\n`));
      await rm(outbox, { recursive: true, force: true });
    },
  };
}

export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, connectTimeout: 5000, maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    for (let round = 0; round < 100_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/** CPU seconds the Redis server has used (INFO cpu: user + sys of the whole server; other clients' work included). */
export async function redisCpuSeconds(): Promise<number> {
  const info = await redisInfo('cpu');
  return Number(info.get('used_cpu_user') ?? 0) + Number(info.get('used_cpu_sys') ?? 0);
}

/** Calls per command from INFO commandstats (whole server). */
export async function redisCommandCalls(): Promise<Map<string, number>> {
  const info = await redisInfo('commandstats');
  const calls = new Map<string, number>();
  for (const [key, value] of info) {
    const match = /^cmdstat_(.+)$/.exec(key);
    const n = /calls=(\d+)/.exec(value)?.[1];
    if (match && n) calls.set(match[1]!, Number(n));
  }
  return calls;
}

async function redisInfo(section: string): Promise<Map<string, string>> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, connectTimeout: 5000, maxRetriesPerRequest: 2, lazyConnect: true });
  try {
    await redis.connect();
    const text = await redis.info(section);
    const fields = new Map<string, string>();
    for (const line of text.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  } finally {
    redis.disconnect();
  }
}

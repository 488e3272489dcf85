import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { SMTPServer } from 'smtp-server';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/infra/config/config';
import { createLogger } from '../../src/infra/logger';
import { startRuntime } from '../../src/infra/runtime';
import type { ClientToServerEvents, ServerToClientEvents } from '../../src/infra/socket/socketEvents';
import { TEST_JWT_SECRET, type TestApp, type TestUser } from './apiHarness';
import { createTestDatabase, type TestDatabase } from './testDatabase';

/**
 * Several app instances (startRuntime, PORT 0) sharing one test database, the real Redis and a
 * key prefix of their own, as a deployment of several processes would.
 */
export interface Cluster {
  db: TestDatabase;
  prefix: string;
  outbox: string;
  instances: TestApp[];
  configFor(overrides?: Record<string, string>): Config;
  start(overrides?: Record<string, string>): Promise<TestApp>;
  stop(): Promise<void>;
}

export async function createCluster(label: string): Promise<Cluster> {
  const db = await createTestDatabase();
  const prefix = `ol-test:${label}:${randomBytes(6).toString('hex')}:`;
  const outbox = await mkdtemp(path.join(tmpdir(), 'ol-outbox-'));
  const instances: TestApp[] = [];
  const configFor = (overrides: Record<string, string> = {}): Config =>
    loadConfig({
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      ROLES: 'api,projector,notifier',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATABASE_URL: db.url,
      DATABASE_POOL_MAX: '8',
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: '6379',
      REDIS_KEY_PREFIX: prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      BCRYPT_ROUNDS: '4',
      RATE_LIMIT_MAX: '100000',
      LOGIN_RATE_LIMIT_MAX: '100000',
      CONSISTENCY_WAIT_MS: '5000',
      MAIL_OUTBOX_DIR: outbox,
      HTTP_CLIENT_TIMEOUT_MS: '5000',
      ...overrides,
    });
  const cluster: Cluster = {
    db,
    prefix,
    outbox,
    instances,
    configFor,
    async start(overrides = {}) {
      const config = configFor(overrides);
      const runtime = await startRuntime(config, { logger: createLogger(config.LOG_LEVEL) });
      const app: TestApp = {
        url: runtime.url ?? '',
        request: supertest.agent(runtime.url ?? 'http://127.0.0.1:1'),
        runtime,
        db,
        stop: async () => {
          const index = instances.indexOf(app);
          if (index !== -1) instances.splice(index, 1);
          await runtime.stop();
        },
      };
      instances.push(app);
      return app;
    },
    async stop() {
      for (const app of [...instances].reverse()) await app.stop().catch(() => undefined);
      await deleteKeys(prefix).catch(() => undefined);
      await rm(outbox, { recursive: true, force: true });
      await db.drop();
    },
  };
  return cluster;
}

/** Deletes every Redis key under the prefix (one run's or one cluster's data; never the whole server). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, connectTimeout: 5000, maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/** A token that expires `seconds` from now (the service's own lifetime is at least a minute). */
export function shortLivedToken(user: Pick<TestUser, 'id' | 'email' | 'role'>, seconds: number): string {
  return jwt.sign({ email: user.email, role: user.role }, TEST_JWT_SECRET, { algorithm: 'HS256', subject: user.id, expiresIn: seconds });
}

export type Client = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

export interface ClientOptions {
  reconnection?: boolean;
  reconnectionDelay?: number;
}

/** A real socket.io-client over WebSocket on loopback; connect() waits for the outcome. */
export function client(url: string, token: string | undefined, options: ClientOptions = {}): Client {
  return connect(url, {
    transports: ['websocket'],
    auth: token === undefined ? {} : { token },
    forceNew: true,
    timeout: 5000,
    reconnection: options.reconnection ?? false,
    reconnectionDelay: options.reconnectionDelay ?? 1000,
    reconnectionDelayMax: options.reconnectionDelay ?? 1000,
    randomizationFactor: 0,
    reconnectionAttempts: 5,
    autoConnect: false,
  });
}

export async function connected(socket: Client, timeoutMs = 5000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const onConnect = (): void => done();
    const onError = (error: Error): void => done(error);
    function done(error?: Error): void {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      if (error) reject(error);
      else resolve();
    }
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
    if (!socket.connected) socket.connect();
  });
}

export async function connectionRefusal(socket: Client, timeoutMs = 5000): Promise<Error & { data?: { type?: string; code?: string } }> {
  try {
    await connected(socket, timeoutMs);
  } catch (error) {
    return error as Error & { data?: { type?: string; code?: string } };
  }
  throw new Error('the connection was accepted');
}

export interface Received {
  event: keyof ServerToClientEvents;
  payload: Record<string, unknown>;
}

/** Records every server event a client receives. */
export function record(socket: Client): Received[] {
  const received: Received[] = [];
  socket.onAny((event: keyof ServerToClientEvents, payload: Record<string, unknown>) => {
    received.push({ event, payload });
  });
  return received;
}

/** Polls (bounded) until `check` returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function disconnectAll(...sockets: Client[]): void {
  for (const socket of sockets) socket.disconnect();
}

export interface CapturedEmail {
  /** MAIL FROM and RCPT TO. */
  from: string | undefined;
  to: string[];
  raw: string;
  subject: string;
  eventId: string | undefined;
  messageId: string | undefined;
}

export interface SmtpSink {
  url: string;
  messages: CapturedEmail[];
  /** Messages refused with 451, as they were sent. */
  refusedMessages: CapturedEmail[];
  /** Refuses the next `count` messages with a temporary (451) error. */
  refuseNext(count: number): void;
  /** How many messages were refused so far. */
  readonly refused: number;
  close(): Promise<void>;
}

function header(raw: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(raw);
  return match?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

/** A real SMTP server (smtp-server) on loopback that keeps every message it accepts. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: CapturedEmail[] = [];
  const refusedMessages: CapturedEmail[] = [];
  let refusals = 0;
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    socketTimeout: 10_000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const captured: CapturedEmail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          subject: header(raw, 'Subject') ?? '',
          eventId: header(raw, 'X-Order-Ledger-Event-Id'),
          messageId: header(raw, 'Message-ID'),
        };
        if (refusals > 0) {
          refusals -= 1;
          refused += 1;
          refusedMessages.push(captured);
          const error = new Error('try again later') as Error & { responseCode: number };
          error.responseCode = 451;
          callback(error);
          return;
        }
        messages.push(captured);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    refusedMessages,
    refuseNext(count) {
      refusals = count;
    },
    get refused() {
      return refused;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

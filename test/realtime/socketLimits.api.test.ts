import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { RoomAck } from '../../src/infra/socket/socketEvents';
import { givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';
import { client, connected, connectionRefusal, createCluster, eventually, type Client, type Cluster } from '../support/realtimeHarness';

let cluster: Cluster;
const sockets: Client[] = [];
const apps: TestApp[] = [];

function open(app: TestApp, token: string): Client {
  const socket = client(app.url, token);
  sockets.push(socket);
  return socket;
}

/** An API-only instance (no projector or notifier querying on its own) with these limits. */
async function instance(overrides: Record<string, string>): Promise<TestApp> {
  const app = await cluster.start({ ROLES: 'api', ...overrides });
  apps.push(app);
  return app;
}

/** Counts the joinOrder ownership look-ups the app sends to PostgreSQL through its knex. */
function countOrderLookups(knex: Knex): { readonly count: number; stop(): void } {
  let count = 0;
  const listener = (query: { sql: string }): void => {
    if (/^select "user_id" from "orders"/.test(query.sql)) count += 1;
  };
  knex.on('query', listener);
  return {
    get count() {
      return count;
    },
    stop: () => void knex.removeListener('query', listener),
  };
}

const codeOf = (ack: RoomAck): string => (ack.ok ? 'OK' : ack.error.code);

function joinWithAck(socket: Client, orderId: string): Promise<RoomAck> {
  return new Promise((resolve) => socket.emit('joinOrder', { orderId }, resolve));
}

/** The reason the socket was disconnected, or 'still connected' after `timeoutMs`. */
function disconnection(socket: Client, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still connected'), timeoutMs);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

beforeAll(async () => {
  cluster = await createCluster('socket-limits');
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  for (const app of apps.splice(0)) await app.stop();
});

afterAll(async () => {
  await cluster?.stop();
});

describe('per-socket event limits', () => {
  test('when a socket floods joinOrder with random ids, then the surplus is acked RATE_LIMITED, the socket is disconnected, and no more than the admitted events reached the database', async () => {
    const app = await instance({ SOCKET_EVENT_BURST: '5', SOCKET_EVENT_RATE: '1', SOCKET_REFUSALS_BEFORE_DISCONNECT: '10' });
    const user = await givenUser(app);
    const socket = open(app, user.token);
    await connected(socket);
    const lookups = countOrderLookups(app.runtime.deps.knex);
    const acks: RoomAck[] = [];
    const dropped = disconnection(socket);

    const started = Date.now();
    for (let i = 0; i < 200; i++) socket.emit('joinOrder', { orderId: randomUUID() }, (ack: RoomAck) => acks.push(ack));
    const reason = await dropped;
    const seconds = (Date.now() - started) / 1000;

    expect(reason).toBe('io server disconnect');
    const limited = acks.filter((ack) => codeOf(ack) === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThanOrEqual(10);
    expect(limited[0]).toEqual({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many events on this connection/) } });
    expect(acks.every((ack) => ['RATE_LIMITED', 'ORDER_NOT_FOUND'].includes(codeOf(ack)))).toBe(true);
    await eventually(() => app.runtime.deps.sockets!.io.of('/').sockets.size === 0, 'the server to drop the socket');
    // At most the burst plus what the rate refilled meanwhile, of the 200 sent (admitted checks
    // still waiting when the socket went are dropped).
    expect(lookups.count).toBeLessThanOrEqual(5 + Math.ceil(seconds));
    lookups.stop();
  });

  test('when events are refused for the rate, then each refusal costs no database query', async () => {
    const app = await instance({ SOCKET_EVENT_BURST: '3', SOCKET_EVENT_RATE: '1', SOCKET_REFUSALS_BEFORE_DISCONNECT: '50' });
    const user = await givenUser(app);
    const socket = open(app, user.token);
    await connected(socket);
    const lookups = countOrderLookups(app.runtime.deps.knex);

    const first = await Promise.all([1, 2, 3].map(() => joinWithAck(socket, randomUUID())));
    expect(first.map(codeOf)).toEqual(['ORDER_NOT_FOUND', 'ORDER_NOT_FOUND', 'ORDER_NOT_FOUND']);
    expect(lookups.count).toBe(3);

    const second = await Promise.all(Array.from({ length: 10 }, () => joinWithAck(socket, randomUUID())));
    const refused = second.filter((ack) => codeOf(ack) === 'RATE_LIMITED').length;
    const admitted = second.filter((ack) => codeOf(ack) === 'ORDER_NOT_FOUND').length;
    expect(refused + admitted).toBe(10);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(lookups.count).toBe(3 + admitted);
    expect(socket.connected).toBe(true);
    lookups.stop();
  });

  test('when joinOrder checks are slow, then at most SOCKET_MAX_PENDING_CHECKS run per socket and the rest are refused at once without a query', async () => {
    const app = await instance({ SOCKET_EVENT_BURST: '100', SOCKET_MAX_PENDING_CHECKS: '2', SOCKET_REFUSALS_BEFORE_DISCONNECT: '100' });
    const user = await givenUser(app);
    const socket = open(app, user.token);
    await connected(socket);
    const lookups = countOrderLookups(app.runtime.deps.knex);
    // Hold the read model so every ownership look-up waits.
    const trx = await cluster.db.knex.transaction();
    try {
      await trx.raw('lock table orders in access exclusive mode');
      const answers = Array.from({ length: 10 }, () => joinWithAck(socket, randomUUID()));
      const refusedAtOnce = await Promise.all(answers.slice(2));
      expect(refusedAtOnce.map(codeOf)).toEqual(Array(8).fill('RATE_LIMITED'));
      expect((refusedAtOnce[0] as { error: { message: string } }).error.message).toMatch(/at most 2\); wait for their acks/);
      await eventually(() => lookups.count === 2, 'the two admitted look-ups to be sent');
      await trx.commit();
      expect((await Promise.all(answers.slice(0, 2))).map(codeOf)).toEqual(['ORDER_NOT_FOUND', 'ORDER_NOT_FOUND']);
      expect(lookups.count).toBe(2);
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
      lookups.stop();
    }
  });

  test('when a client message is larger than SOCKET_MAX_MESSAGE_BYTES, then the server closes the connection instead of reading it', async () => {
    const app = await instance({ SOCKET_MAX_MESSAGE_BYTES: '1024' });
    const user = await givenUser(app);
    const socket = open(app, user.token);
    await connected(socket);
    expect(codeOf(await joinWithAck(socket, 'x'.repeat(100)))).toBe('VALIDATION_FAILED');

    const dropped = disconnection(socket);
    socket.emit('joinOrder', { orderId: 'x'.repeat(2000) }, () => undefined);
    expect(await dropped).toMatch(/^transport (close|error)$/);
  });
});

describe('per-user limits shared by two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;

  async function pair(overrides: Record<string, string>): Promise<void> {
    a = await instance(overrides);
    b = await instance(overrides);
    user = await givenUser(a);
  }

  test('when a user holds SOCKET_MAX_CONNECTIONS_PER_USER sockets spread over both instances, then a further one on either is refused until one closes', async () => {
    await pair({ SOCKET_MAX_CONNECTIONS_PER_USER: '2' });
    const onA = open(a, user.token);
    const onB = open(b, user.token);
    await Promise.all([connected(onA), connected(onB)]);

    for (const app of [a, b]) {
      const refusal = await connectionRefusal(open(app, user.token));
      expect(refusal.message).toBe('At most 2 connections per user');
      expect(refusal.data).toEqual({ type: 'rate_limit', code: 'TOO_MANY_CONNECTIONS' });
    }
    const someoneElse = await givenUser(a);
    await connected(open(b, someoneElse.token));

    onA.disconnect();
    await eventually(() => a.runtime.deps.sockets!.io.of('/').sockets.size === 0, 'instance A to drop the socket');
    const again = open(b, user.token);
    await eventually(async () => {
      try {
        await connected(again);
        return true;
      } catch {
        return false;
      }
    }, 'a new connection once a place is free');
  });

  test("when sockets of one user on both instances send events, then the user's SOCKET_USER_EVENT_LIMIT counts them together", async () => {
    await pair({ SOCKET_USER_EVENT_LIMIT: '6', SOCKET_USER_EVENT_WINDOW_SECONDS: '600', SOCKET_EVENT_BURST: '50' });
    const onA = open(a, user.token);
    const onB = open(b, user.token);
    await Promise.all([connected(onA), connected(onB)]);
    const lookupsOnB = countOrderLookups(b.runtime.deps.knex);

    const fromA = await Promise.all(Array.from({ length: 4 }, () => joinWithAck(onA, randomUUID())));
    expect(fromA.map(codeOf)).toEqual(Array(4).fill('ORDER_NOT_FOUND'));
    const fromB: RoomAck[] = [];
    for (let i = 0; i < 4; i++) fromB.push(await joinWithAck(onB, randomUUID()));

    expect(fromB.map(codeOf)).toEqual(['ORDER_NOT_FOUND', 'ORDER_NOT_FOUND', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect((fromB[2] as { error: { message: string } }).error.message).toMatch(/^Too many events from this user; retry in \d+ ms$/);
    expect(lookupsOnB.count).toBe(2);
    lookupsOnB.stop();
  });

  test('when a user reconnects in a loop, then SOCKET_USER_CONNECTS_PER_MINUTE refuses further attempts on both instances', async () => {
    await pair({ SOCKET_USER_CONNECTS_PER_MINUTE: '3' });
    for (const app of [a, b, a]) {
      const socket = open(app, user.token);
      await connected(socket);
      socket.disconnect();
    }
    for (const app of [a, b]) {
      const refusal = await connectionRefusal(open(app, user.token));
      expect(refusal.data).toEqual({ type: 'rate_limit', code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    }
  });
});

describe('when Redis is unreachable', () => {
  // Port 1 on loopback: nothing listens, so every Redis command stays unanswered.
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ REDIS_PORT: '1', ROLES: 'api', SOCKET_MAX_CONNECTIONS_PER_USER: '2', SOCKET_USER_EVENT_LIMIT: '3', SOCKET_USER_EVENT_WINDOW_SECONDS: '600' });
  });
  afterAll(async () => {
    await app.stop();
  });

  test('then each instance still enforces the per-user bounds on its own', async () => {
    const user = await givenUser(app);
    const first = open(app, user.token);
    const second = open(app, user.token);
    await connected(first, 10_000);
    await connected(second, 10_000);
    expect((await connectionRefusal(open(app, user.token), 10_000)).data).toEqual({ type: 'rate_limit', code: 'TOO_MANY_CONNECTIONS' });

    const acks: RoomAck[] = [];
    for (let i = 0; i < 4; i++) acks.push(await joinWithAck(first, randomUUID()));
    expect(acks.map(codeOf)).toEqual(['ORDER_NOT_FOUND', 'ORDER_NOT_FOUND', 'ORDER_NOT_FOUND', 'RATE_LIMITED']);
  });
});

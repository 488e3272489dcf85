import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { NOTIFIER_CHECKPOINT } from '../../src/projections/notifier';
import { bearer, givenAdmin, givenOrder, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import {
  client,
  connected,
  connectionRefusal,
  createCluster,
  disconnectAll,
  eventually,
  record,
  shortLivedToken,
  sleep,
  type Client,
  type Cluster,
  type Received,
} from '../support/realtimeHarness';

// Long enough for a duplicate push to show up, short enough to keep the file quick.
const QUIET_MS = 750;

let cluster: Cluster;
let a: TestApp;
let b: TestApp;
let owner: TestUser;
let other: TestUser;
let admin: TestUser;
const sockets: Client[] = [];

function open(app: TestApp, token: string | undefined, options: Parameters<typeof client>[2] = {}): Client {
  const socket = client(app.url, token, options);
  sockets.push(socket);
  return socket;
}

const matching = (received: Received[], event: Received['event'], orderId: string, extra: Record<string, unknown> = {}): Received[] =>
  received.filter((r) => r.event === event && r.payload.orderId === orderId && Object.entries(extra).every(([k, v]) => r.payload[k] === v));

async function markPaid(app: TestApp, orderId: string): Promise<bigint> {
  const res = await app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token));
  expect(res.status).toBe(200);
  return BigInt((res.body as { data: { position: string } }).data.position);
}

async function notifierReached(position: bigint): Promise<void> {
  await eventually(async () => {
    const row = (await cluster.db.knex('projection_checkpoints').where('name', NOTIFIER_CHECKPOINT).first('position')) as { position: string } | undefined;
    return row !== undefined && BigInt(row.position) >= position;
  }, `the notifier to pass position ${position}`);
}

beforeAll(async () => {
  cluster = await createCluster('socket');
  // Both instances run every role: the advisory lock leaves one notifier active.
  a = await cluster.start();
  b = await cluster.start();
  owner = await givenUser(a);
  other = await givenUser(a);
  admin = await givenAdmin(a);
});

afterEach(() => {
  disconnectAll(...sockets.splice(0));
});

afterAll(async () => {
  await cluster?.stop();
});

describe('pushes across instances', () => {
  test('when a command is sent to instance A, then the owner connected to instance B receives orderUpdate exactly once and another user receives nothing', async () => {
    const ownerOnB = open(b, owner.token);
    const adminOnB = open(b, admin.token);
    const otherOnB = open(b, other.token);
    const otherOnA = open(a, other.token);
    const ownerEvents = record(ownerOnB);
    const adminEvents = record(adminOnB);
    const otherEvents = [...[otherOnB, otherOnA].map(record)];
    await Promise.all([ownerOnB, adminOnB, otherOnB, otherOnA].map((s) => connected(s)));

    const order = await givenOrder(a, owner);
    await eventually(() => matching(ownerEvents, 'orderUpdate', order.id).length > 0, 'the placement push');
    // In its own room and the order's room: the push is one broadcast to both, so still one copy.
    const joined = await ownerOnB.timeout(5000).emitWithAck('joinOrder', { orderId: order.id });
    expect(joined).toEqual({ ok: true, orderId: order.id });

    const position = await markPaid(a, order.id);
    await eventually(() => matching(ownerEvents, 'orderUpdate', order.id, { status: 'PAID' }).length > 0, 'the PAID push on B');
    await eventually(() => matching(adminEvents, 'orderUpdate', order.id, { status: 'PAID' }).length > 0, 'the PAID push to admins');
    await sleep(QUIET_MS);

    expect(matching(ownerEvents, 'orderUpdate', order.id)).toEqual([
      { event: 'orderUpdate', payload: { orderId: order.id, status: 'PENDING', previousStatus: null, updatedAt: expect.any(String), position: expect.any(String) } },
      { event: 'orderUpdate', payload: { orderId: order.id, status: 'PAID', previousStatus: 'PENDING', updatedAt: expect.any(String), position: position.toString() } },
    ]);
    expect(matching(ownerEvents, 'paymentSuccess', order.id)).toEqual([
      { event: 'paymentSuccess', payload: { orderId: order.id, amount: order.totalAmount, currency: order.currency } },
    ]);
    expect(matching(adminEvents, 'orderCreated', order.id)).toHaveLength(1);
    expect(matching(adminEvents, 'orderCreated', order.id)[0]!.payload).toMatchObject({ userId: owner.id, status: 'PENDING', totalAmount: order.totalAmount });
    expect(matching(adminEvents, 'orderUpdate', order.id)).toHaveLength(1);
    expect(matching(adminEvents, 'paymentSuccess', order.id)).toHaveLength(1);
    expect(otherEvents.flat()).toEqual([]);
  });

  test('when a payment fails, then the owner receives paymentFailed with the reason and the PAYMENT_FAILED update', async () => {
    const ownerOnB = open(b, owner.token);
    const events = record(ownerOnB);
    await connected(ownerOnB);
    const order = await givenOrder(a, owner);
    await handleOrderCommand(a.runtime.deps.store, order.id, {
      type: 'RecordPaymentFailure',
      data: { provider: 'MANUAL', reason: 'card declined', now: new Date().toISOString() },
    });
    await eventually(() => matching(events, 'paymentFailed', order.id).length > 0, 'paymentFailed');
    await sleep(QUIET_MS);
    expect(matching(events, 'paymentFailed', order.id)).toEqual([{ event: 'paymentFailed', payload: { orderId: order.id, message: 'card declined' } }]);
    expect(matching(events, 'orderUpdate', order.id, { status: 'PAYMENT_FAILED' })).toHaveLength(1);
  });

  test('when an admin posts an announcement on instance A, then every connected client on both instances receives it once', async () => {
    const onB = open(b, owner.token);
    const onA = open(a, other.token);
    const eventsB = record(onB);
    const eventsA = record(onA);
    await Promise.all([connected(onB), connected(onA)]);
    const message = `maintenance ${randomUUID()}`;

    const res = await a.request.post('/announcements').set(bearer(admin.token)).send({ message });
    expect(res.status).toBe(202);
    await eventually(() => [eventsA, eventsB].every((events) => events.some((e) => e.event === 'announcement')), 'the announcement');
    await sleep(QUIET_MS);

    for (const events of [eventsA, eventsB]) {
      expect(events.filter((e) => e.event === 'announcement')).toEqual([{ event: 'announcement', payload: { message, at: (res.body as { data: { at: string } }).data.at } }]);
    }
  });

  test('when a user who is not an admin posts an announcement, then 403', async () => {
    const res = await a.request.post('/announcements').set(bearer(owner.token)).send({ message: 'hello' });
    expect(res.status).toBe(403);
  });
});

describe('authentication', () => {
  test('when a client connects without a token, then the connection is refused with an authentication error', async () => {
    const error = await connectionRefusal(open(b, undefined));
    expect(error.message).toMatch(/^Authentication error/);
    expect(error.data).toEqual({ type: 'authentication', code: 'UNAUTHORIZED' });
  });

  test('when a client connects with a token signed by another key, then the connection is refused', async () => {
    const forged = jwt.sign({ email: owner.email, role: 'admin' }, 'another-secret-another-secret-another-secret', { subject: owner.id, expiresIn: 600 });
    const error = await connectionRefusal(open(b, forged));
    expect(error.data).toEqual({ type: 'authentication', code: 'INVALID_TOKEN' });
  });

  test('when a client connects with an expired token, then the connection is refused', async () => {
    const error = await connectionRefusal(open(b, shortLivedToken(owner, -10)));
    expect(error.data).toEqual({ type: 'authentication', code: 'TOKEN_EXPIRED' });
  });

  test('when the token in the query string is valid but auth.token is missing, then the connection is refused', async () => {
    const socket = open(b, undefined);
    socket.io.opts.query = { token: owner.token };
    const error = await connectionRefusal(socket);
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  test('when a connected token expires, then the server disconnects the socket', async () => {
    const socket = open(b, shortLivedToken(owner, 2));
    await connected(socket);
    const reason = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('still connected 6 s later')), 6000);
      socket.once('disconnect', (why) => {
        clearTimeout(timer);
        resolve(why);
      });
    });
    expect(reason).toBe('io server disconnect');
  });
});

describe('order rooms', () => {
  test("when a user joins another user's order, then the ack refuses it and the user gets none of its updates", async () => {
    const order = await givenOrder(a, owner);
    const socket = open(b, other.token);
    const events = record(socket);
    await connected(socket);

    const answer = await socket.timeout(5000).emitWithAck('joinOrder', { orderId: order.id });
    expect(answer).toEqual({ ok: false, error: { code: 'ORDER_NOT_FOUND', message: 'No such order for this user' } });
    await markPaid(a, order.id);
    await sleep(QUIET_MS * 2);
    expect(events).toEqual([]);
  });

  test('when a user joins an order that does not exist or sends a malformed id, then the ack refuses it', async () => {
    const socket = open(b, owner.token);
    await connected(socket);
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'ORDER_NOT_FOUND' } });
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: 'not-a-uuid' })).toEqual({
      ok: false,
      error: { code: 'VALIDATION_FAILED', message: 'orderId must be a UUID' },
    });
  });

  test('when a user sends the order id as a bare string or no object, then the ack says the payload must be { orderId }', async () => {
    const order = await givenOrder(a, owner);
    const socket = open(b, owner.token);
    await connected(socket);
    // What a client without our event types can send.
    const untyped = socket as unknown as { timeout(ms: number): { emitWithAck(event: string, payload: unknown): Promise<unknown> } };
    expect(await untyped.timeout(5000).emitWithAck('joinOrder', order.id)).toEqual({
      ok: false,
      error: { code: 'VALIDATION_FAILED', message: 'the payload must be an object { orderId }, not a bare string' },
    });
    expect(await untyped.timeout(5000).emitWithAck('leaveOrder', order.id)).toMatchObject({ ok: false, error: { message: /not a bare string/ } });
    for (const payload of [42, null, [order.id]]) {
      expect(await untyped.timeout(5000).emitWithAck('joinOrder', payload)).toEqual({
        ok: false,
        error: { code: 'VALIDATION_FAILED', message: 'the payload must be an object { orderId }' },
      });
    }
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: order.id })).toEqual({ ok: true, orderId: order.id });
  });

  test("when an admin joins and then leaves a user's order room, then both acks accept", async () => {
    const order = await givenOrder(a, owner);
    const socket = open(b, admin.token);
    await connected(socket);
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: order.id })).toEqual({ ok: true, orderId: order.id });
    expect(await socket.timeout(5000).emitWithAck('leaveOrder', { orderId: order.id })).toEqual({ ok: true, orderId: order.id });
  });
});

describe('connection state recovery', () => {
  async function dropAfterFirstPush(): Promise<{ socket: Client; events: Received[]; orderId: string }> {
    const socket = open(b, owner.token);
    const events = record(socket);
    await connected(socket);
    const order = await givenOrder(a, owner);
    // The client needs one broadcast's offset before it can ask for what it missed.
    await eventually(() => matching(events, 'orderUpdate', order.id).length > 0, 'the placement push');
    socket.io.engine.close();
    await eventually(() => !socket.connected, 'the client to notice the dropped transport');
    return { socket, events, orderId: order.id };
  }

  test('when a dropped client comes back in time with a valid token, then it is re-authenticated, recovered and gets the update it missed once', async () => {
    const { socket, events, orderId } = await dropAfterFirstPush();
    await notifierReached(await markPaid(a, orderId));

    await connected(socket);
    expect(socket.recovered).toBe(true);
    await eventually(() => matching(events, 'orderUpdate', orderId, { status: 'PAID' }).length > 0, 'the missed PAID push');
    await sleep(QUIET_MS);
    expect(matching(events, 'orderUpdate', orderId, { status: 'PAID' })).toHaveLength(1);
    expect(matching(events, 'paymentSuccess', orderId)).toHaveLength(1);
  });

  test('when a dropped client comes back with a token that has expired meanwhile, then the recovery is refused with an authentication error', async () => {
    const { socket, events, orderId } = await dropAfterFirstPush();
    await notifierReached(await markPaid(a, orderId));

    socket.auth = { token: shortLivedToken(owner, -1) };
    const error = await connectionRefusal(socket);
    expect(error.data).toEqual({ type: 'authentication', code: 'TOKEN_EXPIRED' });
    await sleep(QUIET_MS);
    expect(matching(events, 'orderUpdate', orderId, { status: 'PAID' })).toEqual([]);
  });

  test("when another user's token resumes a dropped session, then it inherits neither the missed pushes nor the rooms", async () => {
    const { socket, events, orderId } = await dropAfterFirstPush();
    await notifierReached(await markPaid(a, orderId));

    socket.auth = { token: other.token };
    await connected(socket);
    await sleep(QUIET_MS);
    expect(matching(events, 'orderUpdate', orderId, { status: 'PAID' })).toEqual([]);
    expect(matching(events, 'paymentSuccess', orderId)).toEqual([]);

    const res = await a.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status: 'PROCESSING' });
    expect(res.status).toBe(200);
    await sleep(QUIET_MS * 2);
    expect(matching(events, 'orderUpdate', orderId, { status: 'PROCESSING' })).toEqual([]);
  });
});

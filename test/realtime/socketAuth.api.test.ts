import { setDisabled, setRole } from '../../src/commands/accounts/accounts';
import { ADMINS_ROOM, orderRoom } from '../../src/infra/socket/socketEvents';
import { NOTIFIER_CHECKPOINT } from '../../src/projections/notifier';
import { bearer, givenAdmin, givenOrder, givenUser, registerAndLogin, type TestApp } from '../support/apiHarness';
import { client, connected, connectionRefusal, createCluster, eventually, record, type Client, type Cluster, type Received } from '../support/realtimeHarness';

// Every change must reach the sockets of every instance within this bound.
const CONVERGENCE_MS = 5000;

let cluster: Cluster;
/** Where changes are made (HTTP) and orders placed. */
let a: TestApp;
/** Holds the sockets; its TTL is far beyond the bound, so only the notification path can act in time. */
let b: TestApp;
const sockets: Client[] = [];

function open(app: TestApp, token: string): Client {
  const socket = client(app.url, token);
  sockets.push(socket);
  return socket;
}

/** The server side of a client socket on instance B. */
function serverSocket(socket: Client) {
  return b.runtime.deps.sockets!.io.of('/').sockets.get(socket.id!);
}

/** Call before the change: resolves with the disconnect reason, rejects if still connected CONVERGENCE_MS later. */
function disconnectedWithin(socket: Client): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!socket.connected) return reject(new Error('not connected to begin with'));
    const timer = setTimeout(() => reject(new Error(`still connected ${CONVERGENCE_MS} ms after the change`)), CONVERGENCE_MS);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

async function notifierPassed(position: string): Promise<void> {
  await eventually(async () => {
    const row = (await cluster.db.knex('projection_checkpoints').where('name', NOTIFIER_CHECKPOINT).first('position')) as { position: string } | undefined;
    return row !== undefined && BigInt(row.position) >= BigInt(position);
  }, `the notifier to pass position ${position}`);
}

const created = (events: Received[], orderId: string): Received[] => events.filter((e) => e.event === 'orderCreated' && e.payload.orderId === orderId);

beforeAll(async () => {
  cluster = await createCluster('socket-auth');
  a = await cluster.start();
  b = await cluster.start({ AUTH_STATE_TTL_MS: '600000' });
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

afterAll(async () => {
  await cluster?.stop();
});

describe('role changes move sockets between rooms', () => {
  test('when an admin is demoted, then within 5 s their socket leaves admins and the order rooms it joined as admin, stays connected, and admins-only pushes no longer reach it', async () => {
    const admin = await givenAdmin(a);
    const customer = await givenUser(a);
    const socket = open(b, admin.token);
    const events = record(socket);
    await connected(socket);
    const before = await givenOrder(a, customer);
    await eventually(() => created(events, before.id).length === 1, 'orderCreated while admin');
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: before.id })).toEqual({ ok: true, orderId: before.id });

    await setRole(cluster.db.knex, admin.email, 'user');

    await eventually(() => !serverSocket(socket)!.rooms.has(ADMINS_ROOM), 'the socket to leave admins', CONVERGENCE_MS);
    expect(serverSocket(socket)!.rooms.has(orderRoom(before.id))).toBe(false);
    expect(serverSocket(socket)!.data.user.role).toBe('user');
    expect(socket.connected).toBe(true);

    const after = await givenOrder(a, customer);
    const paid = await a.request.post(`/orders/${before.id}/mark-paid`).set(bearer((await givenAdmin(a)).token));
    expect(paid.status).toBe(200);
    await notifierPassed((paid.body as { data: { position: string } }).data.position);
    expect(created(events, after.id)).toEqual([]);
    expect(events.filter((e) => e.payload.orderId === before.id && e.event !== 'orderCreated')).toEqual([]);
    expect(await socket.timeout(5000).emitWithAck('joinOrder', { orderId: after.id })).toMatchObject({ ok: false, error: { code: 'ORDER_NOT_FOUND' } });
  });

  test('when a user is promoted, then their open socket joins admins and receives admins-only pushes', async () => {
    const user = await givenUser(a);
    const customer = await givenUser(a);
    const socket = open(b, user.token);
    const events = record(socket);
    await connected(socket);

    await setRole(cluster.db.knex, user.email, 'admin');

    await eventually(() => serverSocket(socket)!.rooms.has(ADMINS_ROOM), 'the socket to join admins', CONVERGENCE_MS);
    const order = await givenOrder(a, customer);
    await eventually(() => created(events, order.id).length === 1, 'orderCreated after the promotion');
  });
});

describe('revocations disconnect sockets', () => {
  test('when a user is disabled, then every socket of theirs on every instance is disconnected within 5 s and reconnecting is refused', async () => {
    const user = await givenUser(a);
    const onA = open(a, user.token);
    const onB = open(b, user.token);
    await Promise.all([connected(onA), connected(onB)]);

    const gone = Promise.all([disconnectedWithin(onA), disconnectedWithin(onB)]);
    await setDisabled(cluster.db.knex, user.email, true);

    expect(await gone).toEqual(['io server disconnect', 'io server disconnect']);
    const refusal = await connectionRefusal(open(b, user.token));
    expect(refusal.data).toEqual({ type: 'authentication', code: 'ACCOUNT_DISABLED' });
  });

  test('when a token is logged out on instance A, then the socket opened with it on instance B is disconnected and one opened with another token stays', async () => {
    const user = await registerAndLogin(a);
    const login = await a.request.post('/auth/login').send({ email: user.email, password: user.password });
    const other = (login.body as { token: string }).token;
    const withRevoked = open(b, user.token);
    const withOther = open(b, other);
    await Promise.all([connected(withRevoked), connected(withOther)]);

    const gone = disconnectedWithin(withRevoked);
    expect((await a.request.post('/auth/logout').set(bearer(user.token))).status).toBe(204);

    expect(await gone).toBe('io server disconnect');
    expect(withOther.connected).toBe(true);
    expect((await connectionRefusal(open(b, user.token))).data).toEqual({ type: 'authentication', code: 'TOKEN_REVOKED' });
  });

  test('when the user row is deleted, then their socket is disconnected', async () => {
    const user = await givenUser(a);
    const socket = open(b, user.token);
    await connected(socket);
    const gone = disconnectedWithin(socket);
    await cluster.db.knex('users').where('id', user.id).delete();
    expect(await gone).toBe('io server disconnect');
  });

  test('when an admin revokes all tokens of a user, then their sockets are disconnected', async () => {
    const admin = await givenAdmin(a);
    const user = await givenUser(a);
    const socket = open(b, user.token);
    await connected(socket);
    const gone = disconnectedWithin(socket);
    expect((await a.request.post(`/users/${user.id}/revoke-tokens`).set(bearer(admin.token))).status).toBe(204);
    expect(await gone).toBe('io server disconnect');
  });

  test('when a user is disabled without a notification, then the periodic recheck (every AUTH_STATE_TTL_MS) still disconnects the socket within 5 s', async () => {
    const c = await cluster.start({ AUTH_STATE_TTL_MS: '1000' });
    try {
      const user = await givenUser(a);
      const socket = open(c, user.token);
      await connected(socket);
      const gone = disconnectedWithin(socket);
      await cluster.db.knex.transaction(async (trx) => {
        // Triggers off for this transaction: nothing is NOTIFYed.
        await trx.raw('set local session_replication_role = replica');
        await setDisabled(trx, user.email, true);
      });
      expect(await gone).toBe('io server disconnect');
    } finally {
      await c.stop();
    }
  });
});

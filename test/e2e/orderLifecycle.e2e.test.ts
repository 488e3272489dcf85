import { loadOrder } from '../../src/commands/order/orderStream';
import { startFakeEsdb, type FakeEsdb } from '../fakes/esdb/fakeEsdb';
import { bearer, givenAdmin, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import { client, connected, createCluster, disconnectAll, eventually, record, startSmtpSink, type Client, type Cluster, type SmtpSink } from '../support/realtimeHarness';

/**
 * The whole application — commands, projector, notifier, email worker — once on each event store:
 * the built-in PostgreSQL store and EventStoreDB (through the real client against the gRPC test server).
 */
describe.each(['postgres', 'esdb'] as const)('order lifecycle end to end on the %s event store', (kind) => {
  let esdb: FakeEsdb | undefined;
  let smtp: SmtpSink;
  let cluster: Cluster;
  let app: TestApp;
  let admin: TestUser;
  let customer: TestUser;
  let socket: Client;

  beforeAll(async () => {
    smtp = await startSmtpSink();
    if (kind === 'esdb') esdb = await startFakeEsdb();
    cluster = await createCluster(`e2e-${kind}`);
    app = await cluster.start({
      ROLES: 'api,projector,notifier,worker',
      SMTP_URL: smtp.url,
      ...(esdb ? { EVENTSTORE_CONNECTION_STRING: esdb.connectionString } : {}),
    });
    admin = await givenAdmin(app);
    customer = await givenUser(app);
    socket = client(app.url, customer.token);
    await connected(socket);
  });

  afterAll(async () => {
    disconnectAll(socket);
    await cluster.stop();
    await esdb?.close();
    await smtp.close();
  });

  it('when an order goes from placement to delivery, then reads, history, pushes and emails follow every step exactly once', async () => {
    expect(app.runtime.deps.store.kind).toBe(kind);
    const received = record(socket);
    const product = await app.request
      .post('/products')
      .set(bearer(admin.token))
      .send({ sku: `E2E-${kind}`, name: 'End-to-end widget', unitAmount: 1250, currency: 'EUR' });
    expect(product.status).toBe(201);

    const placed = await app.request
      .post('/orders')
      .set(bearer(customer.token))
      .send({ items: [{ productId: product.body.data.id, quantity: 3 }], paymentMethod: 'MANUAL' });
    expect(placed.status).toBe(201);
    const order = placed.body.data.order as { id: string; totalAmount: number; currency: string; status: string };
    expect(order).toMatchObject({ status: 'PENDING', totalAmount: 3750, currency: 'EUR' });

    const listed = await app.request.get('/orders').set(bearer(customer.token));
    expect(listed.body.data.map((o: { id: string }) => o.id)).toEqual([order.id]);

    expect((await app.request.post(`/orders/${order.id}/mark-paid`).set(bearer(admin.token)).send({})).status).toBe(200);
    for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) {
      const current = await app.request.get(`/orders/${order.id}`).set(bearer(admin.token));
      const res = await app.request
        .patch(`/orders/${order.id}/status`)
        .set(bearer(admin.token))
        .set('If-Match', current.headers.etag as string)
        .send({ status });
      expect(res.status).toBe(200);
      expect(res.body.data.order.status).toBe(status);
    }

    const history = await app.request.get(`/orders/${order.id}/history`).set(bearer(customer.token));
    expect(history.body.data.map((h: { fromStatus: string | null; toStatus: string }) => [h.fromStatus, h.toStatus])).toEqual([
      [null, 'PENDING'],
      ['PENDING', 'PAID'],
      ['PAID', 'PROCESSING'],
      ['PROCESSING', 'SHIPPED'],
      ['SHIPPED', 'DELIVERED'],
    ]);

    const folded = await loadOrder(app.runtime.deps.store, order.id);
    const row = await app.request.get(`/orders/${order.id}`).set(bearer(customer.token));
    expect(row.body.data).toMatchObject({ status: folded.state.status, revision: Number(folded.revision) });

    const updates = (): string[] => received.filter((r) => r.event === 'orderUpdate' && r.payload.orderId === order.id).map((r) => String(r.payload.status));
    // On a timeout, say which pushes did arrive (seen once in CI on the esdb store, not reproduced since).
    await eventually(() => updates().length >= 5, 'five orderUpdate pushes').catch((error: Error) => {
      throw new Error(`${error.message}; received ${JSON.stringify(updates())}, all events: ${JSON.stringify(received.map((r) => r.event))}`);
    });
    expect(updates()).toEqual(['PENDING', 'PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED']);
    expect(received.filter((r) => r.event === 'paymentSuccess' && r.payload.orderId === order.id)).toHaveLength(1);

    const mailFor = () => smtp.messages.filter((m) => m.to.includes(customer.email));
    await eventually(() => mailFor().length >= 4, 'four emails to the customer');
    const subjects = mailFor().map((m) => m.subject);
    expect(subjects).toHaveLength(4);
    expect(new Set(mailFor().map((m) => m.eventId)).size).toBe(4);
  });

  it('when the owner cancels an unpaid order and another user tries to read it, then it is cancelled and invisible to them', async () => {
    const stranger = await givenUser(app);
    const product = await app.request
      .post('/products')
      .set(bearer(admin.token))
      .send({ sku: `E2E-CANCEL-${kind}`, name: 'Cancelled widget', unitAmount: 500, currency: 'EUR' });
    const placed = await app.request
      .post('/orders')
      .set(bearer(customer.token))
      .send({ items: [{ productId: product.body.data.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    const orderId = placed.body.data.order.id as string;
    const cancelled = await app.request.post(`/orders/${orderId}/cancel`).set(bearer(customer.token)).send({ reason: 'changed my mind' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data.order.status).toBe('CANCELLED');
    expect((await app.request.get(`/orders/${orderId}`).set(bearer(stranger.token))).status).toBe(404);
    const again = await app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token)).send({});
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('CANCELLED');
    expect(again.body.error.message).toContain('PAID');
  });
});

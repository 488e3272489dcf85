import { bearer, givenAdmin, givenProduct, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import { client, connected, createCluster, disconnectAll, eventually, record, startSmtpSink, type Client, type Cluster, type SmtpSink } from '../support/realtimeHarness';

let cluster: Cluster;
let smtp: SmtpSink;
let app: TestApp;
let owner: TestUser;
let admin: TestUser;
let socket: Client;

beforeAll(async () => {
  smtp = await startSmtpSink();
  cluster = await createCluster('returns');
  app = await cluster.start({ ROLES: 'api,projector,notifier,worker', SMTP_URL: smtp.url, EMAIL_RECONCILE_INTERVAL_MS: '200' });
  [owner, admin] = await Promise.all([givenUser(app), givenAdmin(app)]);
  socket = client(app.url, owner.token);
  await connected(socket);
});

afterAll(async () => {
  if (socket) disconnectAll(socket);
  await cluster?.stop();
  await smtp?.close();
});

const post = (path: string, token: string, body: Record<string, unknown> = {}) => app.request.post(path).set(bearer(token)).send(body);

/** A MANUAL order of 3 mugs (12.50) and a lamp (40.00), paid and delivered. */
async function deliveredOrder() {
  const [mug, lamp] = await Promise.all([givenProduct(app, { unitAmount: 1250, currency: 'USD' }), givenProduct(app, { unitAmount: 4000, currency: 'USD' })]);
  const placed = await post('/orders', owner.token, {
    items: [
      { productId: mug.id, quantity: 3 },
      { productId: lamp.id, quantity: 1 },
    ],
    paymentMethod: 'MANUAL',
  });
  expect(placed.status).toBe(201);
  const orderId = placed.body.data.order.id as string;
  expect((await post(`/orders/${orderId}/mark-paid`, admin.token)).status).toBe(200);
  for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) {
    expect((await app.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status })).status).toBe(200);
  }
  return { orderId, mug: mug.id, lamp: lamp.id };
}

describe('returns, end to end', () => {
  it('when the owner returns lines, an admin approves and receives them, then the refund is confirmed; each step is pushed and emailed', async () => {
    const pushes = record(socket);
    const { orderId, mug, lamp } = await deliveredOrder();

    const requested = await post(`/orders/${orderId}/returns`, owner.token, {
      lines: [
        { productId: mug, quantity: 2 },
        { productId: lamp, quantity: 1 },
      ],
      reason: 'not as pictured',
    });
    expect(requested.status).toBe(200);
    const returnId = requested.body.data.returnId as string;
    expect(requested.body.data.order.returns).toEqual([expect.objectContaining({ returnId, status: 'REQUESTED', reason: 'not as pictured' })]);

    // Owners cannot approve their own return.
    expect((await post(`/orders/${orderId}/returns/${returnId}/approve`, owner.token)).status).toBe(403);
    const approved = await post(`/orders/${orderId}/returns/${returnId}/approve`, admin.token);
    expect(approved.body.data.order.returns[0].status).toBe('APPROVED');

    const received = await post(`/orders/${orderId}/returns/${returnId}/receive`, admin.token, { damaged: [lamp] });
    expect(received.status).toBe(200);
    expect(received.body.data.refund).toMatchObject({ status: 'awaiting_confirmation' });
    const order = received.body.data.order;
    expect(order.returns[0]).toMatchObject({
      status: 'RECEIVED',
      lines: [
        { productId: mug, quantity: 2, damaged: false },
        { productId: lamp, quantity: 1, damaged: true },
      ],
    });
    expect(order.refunds).toEqual([expect.objectContaining({ returnId, amount: 6500, status: 'REQUESTED' })]);

    const confirmed = await post(`/orders/${orderId}/refund/confirm`, admin.token, { refundId: received.body.data.refund.refundId });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.data.order).toMatchObject({ status: 'DELIVERED', paymentStatus: 'PARTIALLY_REFUNDED', refundedAmount: 6500 });

    await eventually(
      () => ['REQUESTED', 'APPROVED', 'RECEIVED'].every((s) => pushes.some((p) => p.event === 'returnUpdate' && p.payload.status === s && p.payload.returnId === returnId)),
      'return pushes',
    );
    await eventually(() => pushes.some((p) => p.event === 'refundUpdate' && p.payload.orderId === orderId && p.payload.status === 'SUCCEEDED'), 'refund push');
    const subjects = () => smtp.messages.filter((m) => m.subject.includes(orderId.slice(0, 8))).map((m) => m.subject);
    await eventually(
      () => ['Return requested', 'Return approved', 'Return received', 'Partial refund'].every((s) => subjects().some((subject) => subject.startsWith(s))),
      'return emails',
      20_000,
    );
    expect(smtp.messages.find((m) => m.subject.startsWith('Return approved') && m.subject.includes(orderId.slice(0, 8)))!.to).toEqual([owner.email]);

    const history = await app.request.get(`/orders/${orderId}/history`).set(bearer(owner.token));
    expect(history.body.data.map((h: { eventType: string }) => h.eventType)).toEqual(
      expect.arrayContaining(['ReturnRequested', 'ReturnApproved', 'ReturnReceived', 'PartialRefundRequested', 'RefundSucceeded']),
    );
  });

  it('when an admin rejects a return, then it is REJECTED with the reason, pushed and emailed, and the lines may be asked for again', async () => {
    const pushes = record(socket);
    const { orderId, mug } = await deliveredOrder();
    const requested = await post(`/orders/${orderId}/returns`, owner.token, { lines: [{ productId: mug, quantity: 3 }], reason: 'changed my mind' });
    const returnId = requested.body.data.returnId as string;
    const rejected = await post(`/orders/${orderId}/returns/${returnId}/reject`, admin.token, { reason: 'used' });
    expect(rejected.body.data.order.returns[0]).toMatchObject({ status: 'REJECTED', rejectionReason: 'used' });
    expect((await post(`/orders/${orderId}/returns/${returnId}/receive`, admin.token)).body.error.code).toBe('RETURN_INVALID_TRANSITION');
    await eventually(() => pushes.some((p) => p.event === 'returnUpdate' && p.payload.returnId === returnId && p.payload.status === 'REJECTED'), 'rejection push');
    await eventually(() => smtp.messages.some((m) => m.subject.startsWith('Return declined') && m.subject.includes(orderId.slice(0, 8))), 'rejection email', 20_000);
    expect((await post(`/orders/${orderId}/returns`, owner.token, { lines: [{ productId: mug, quantity: 3 }], reason: 'again' })).status).toBe(200);
  });

  it('when an order is not delivered, or more is returned than was ordered, then the request is refused', async () => {
    const { orderId, mug } = await deliveredOrder();
    expect((await post(`/orders/${orderId}/returns`, owner.token, { lines: [{ productId: mug, quantity: 4 }], reason: 'x' })).status).toBe(400);
    const other = await givenUser(app);
    expect((await post(`/orders/${orderId}/returns`, other.token, { lines: [{ productId: mug, quantity: 1 }], reason: 'x' })).status).toBe(404);
    const product = await givenProduct(app);
    const unpaid = await post('/orders', owner.token, { items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    const res = await post(`/orders/${unpaid.body.data.order.id}/returns`, owner.token, { lines: [{ productId: product.id, quantity: 1 }], reason: 'x' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('RETURN_NOT_ALLOWED');
  });
});

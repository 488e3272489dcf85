import { randomUUID } from 'node:crypto';
import { bearer, givenAdmin, givenOrder, givenUser, startTestApp, type PlacedOrder, type TestApp, type TestUser } from '../support/apiHarness';

interface Entry {
  position: string;
  revision: number;
  type: string;
  at: string;
  recordedAt: string;
  actor: { type: string; id: string | null };
  statusBefore: string | null;
  statusAfter: string;
  detail: string;
  state: Record<string, unknown>;
}

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

describe('GET /orders/:id/timeline', () => {
  let app: TestApp;
  let owner: TestUser;
  let other: TestUser;
  let admin: TestUser;
  let order: PlacedOrder;

  beforeAll(async () => {
    app = await startTestApp();
    [owner, other, admin] = await Promise.all([givenUser(app), givenUser(app), givenAdmin(app)]);
    order = await givenOrder(app, owner);
    expect((await app.request.post(`/orders/${order.id}/mark-paid`).set(bearer(admin.token)).send({})).status).toBe(200);
    expect((await app.request.patch(`/orders/${order.id}/status`).set(bearer(admin.token)).send({ status: 'PROCESSING' })).status).toBe(200);
  });

  afterAll(async () => {
    await app.stop();
  });

  const timeline = (user: TestUser, id = order.id) => app.request.get(`/orders/${id}/timeline`).set(bearer(user.token));

  it('when the owner asks, then every event comes with time, actor, status before and after, and the state after it', async () => {
    const res = await timeline(owner);
    expect(res.status).toBe(200);
    const entries = (res.body as { status: string; data: Entry[] }).data;
    expect((res.body as { status: string }).status).toBe('success');
    expect(entries.map((e) => [e.revision, e.type, e.statusBefore, e.statusAfter])).toEqual([
      [0, 'OrderPlaced', null, 'PENDING'],
      [1, 'PaymentSucceeded', 'PENDING', 'PAID'],
      [2, 'OrderStatusChanged', 'PAID', 'PROCESSING'],
    ]);
    expect(entries.map((e) => e.actor)).toEqual([
      { type: 'user', id: owner.id },
      { type: 'admin', id: admin.id },
      { type: 'admin', id: admin.id },
    ]);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(['actor', 'at', 'detail', 'position', 'recordedAt', 'revision', 'state', 'statusAfter', 'statusBefore', 'type']);
      expect(entry.position).toMatch(/^\d+$/);
      expect(new Date(entry.at).toISOString()).toBe(entry.at);
      expect(Date.parse(entry.recordedAt)).not.toBeNaN();
      expect(entry.state.status).toBe(entry.statusAfter);
    }
    const positions = entries.map((e) => BigInt(e.position));
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(entries[0]!.detail).toBe(`1 item(s), total ${order.totalAmount} USD, pay by MANUAL`);
    expect(entries[0]!.state).toEqual({
      status: 'PENDING',
      orderId: order.id,
      userId: owner.id,
      totalAmount: order.totalAmount,
      currency: 'USD',
      paymentMethod: 'MANUAL',
      paymentReference: null,
      paidReference: null,
      paidAmount: 0,
      refundRequested: false,
      strayPayments: [],
    });
    expect(entries[1]!.state).toMatchObject({ status: 'PAID', paidAmount: order.totalAmount });
    expect(entries[2]!.state).toMatchObject({ status: 'PROCESSING', paidAmount: order.totalAmount, refundRequested: false });
  });

  it('when an admin asks, then the same timeline comes back', async () => {
    const [asAdmin, asOwner] = await Promise.all([timeline(admin), timeline(owner)]);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body).toEqual(asOwner.body);
  });

  it("when another user asks for someone else's order, then 404 as if it did not exist", async () => {
    const res = await timeline(other);
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
  });

  it('when the order does not exist, then 404 ORDER_NOT_FOUND', async () => {
    const res = await timeline(admin, randomUUID());
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
  });

  it('when the id is not a UUID or no token is sent, then 400 and 401 with the error envelope', async () => {
    const bad = await timeline(owner, 'not-a-uuid');
    expect(bad.status).toBe(400);
    expect(errorCode(bad)).toBe('VALIDATION_FAILED');
    const anonymous = await app.request.get(`/orders/${order.id}/timeline`);
    expect(anonymous.status).toBe(401);
  });

  it('when the read models have lost the order, then the timeline still comes from the event store', async () => {
    await app.runtime.deps.knex('order_history').where('order_id', order.id).del();
    await app.runtime.deps.knex('orders').where('id', order.id).del();
    const res = await timeline(owner);
    expect(res.status).toBe(200);
    expect((res.body as { data: Entry[] }).data.map((e) => e.statusAfter)).toEqual(['PENDING', 'PAID', 'PROCESSING']);
  });
});

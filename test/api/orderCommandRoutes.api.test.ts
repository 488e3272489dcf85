import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { loadOrder } from '../../src/commands/order/orderStream';
import { bearer } from '../support/apiHarness';
import { startCommandApp, type CommandApp } from '../support/commandApp';
import { anOrder, orderPlaced } from '../support/orderEvents';

/**
 * The order command routes over HTTP on the in-memory event store (moved from orders.api.test.ts,
 * assertions unchanged): no PostgreSQL. Orders are given as events; their status is read the way the
 * orders read model shows it.
 */
let app: CommandApp;
type Caller = { id: string; token: string };
let admin: Caller;
let alice: Caller;
let bob: Caller;
const mug = { id: randomUUID(), sku: 'MUG-1', name: 'Mug', unitAmount: 1999 };

beforeAll(async () => {
  app = await startCommandApp();
  const caller = (role: 'user' | 'admin'): Caller => {
    const id = randomUUID();
    return { id, token: app.token({ id, role }) };
  };
  [admin, alice, bob] = [caller('admin'), caller('user'), caller('user')];
});
afterAll(async () => {
  await app.stop();
});

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;
const errorMessage = (res: { body: unknown }): string => (res.body as { error?: { message?: string } }).error?.message ?? '';

const markPaid = (orderId: string) => app.request.post(`/orders/${orderId}/mark-paid`).set(bearer(admin.token));
const setStatus = (orderId: string, status: string, token = admin.token) => app.request.patch(`/orders/${orderId}/status`).set(bearer(token)).send({ status });
const cancel = (orderId: string, token: string, body: object = {}) => app.request.post(`/orders/${orderId}/cancel`).set(bearer(token)).send(body);
const statusOf = async (orderId: string): Promise<string | undefined> => (await loadOrder(app.store, orderId)).state.status;

/** A MANUAL order of the user, placed earlier. */
async function givenOrder(_app: CommandApp, user: Caller): Promise<{ id: string }> {
  const order = anOrder({ userId: user.id });
  await app.given(order.orderId, orderPlaced(order));
  return { id: order.orderId };
}

/** A payment failure arrives from a provider (payments issue); here it is appended through the real command handler. */
async function givenPaymentFailed(orderId: string): Promise<void> {
  await handleOrderCommand(app.store, orderId, {
    type: 'RecordPaymentFailure',
    data: { provider: 'MANUAL', reason: 'card declined', now: new Date().toISOString() },
  });
}

describe('PATCH /orders/:id/status', () => {
  it('when an admin moves a paid order through fulfilment, then each step answers 200 with the new status', async () => {
    const order = await givenOrder(app, alice);
    expect((await markPaid(order.id)).status).toBe(200);
    for (const status of ['PROCESSING', 'SHIPPED', 'DELIVERED']) {
      const res = await setStatus(order.id, status);
      expect(res.status).toBe(200);
      expect(res.body.data.order.status).toBe(status);
      expect(res.body.data.position).toMatch(/^\d+$/);
    }
    expect(await statusOf(order.id)).toBe('DELIVERED');
  });

  it.each([
    ['PENDING', 'PROCESSING', 0, 'the order must be PAID first: mark the order paid (MANUAL orders), or the provider confirms the payment', 'MarkPaid'],
    ['PENDING', 'SHIPPED', 0, 'the order must be PAID first: mark the order paid (MANUAL orders), or the provider confirms the payment', 'MarkPaid'],
    ['PAID', 'SHIPPED', 1, 'the order must be PROCESSING first: start processing (no refund pending)', 'ChangeStatus'],
    ['PAID', 'DELIVERED', 1, 'the order must be PROCESSING first: start processing (no refund pending)', 'ChangeStatus'],
  ])('when an order in %s is moved to %s, then 409 naming both states and the next step', async (from, to, paidSteps, hint, firstNext) => {
    const order = await givenOrder(app, alice);
    if (paidSteps > 0) await markPaid(order.id);
    const res = await setStatus(order.id, to);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('ORDER_INVALID_TRANSITION');
    expect(errorMessage(res)).toBe(`${from} → ${to} is not allowed; ${hint}`);
    expect(res.body.error.details).toMatchObject({ from, to, next: expect.arrayContaining([expect.objectContaining({ command: firstNext })]) });
    expect(await statusOf(order.id)).toBe(from);
  });

  it.each([
    ['a status outside fulfilment', { status: 'CANCELLED' }],
    ['an unknown status', { status: 'TELEPORTED' }],
    ['an unknown field', { status: 'PROCESSING', note: 'x' }],
    ['no status', {}],
  ])('when the body has %s, then 400', async (_label, body) => {
    const order = await givenOrder(app, alice);
    const res = await app.request.patch(`/orders/${order.id}/status`).set(bearer(admin.token)).send(body);
    expect(res.status).toBe(400);
  });

  it('when If-Match is not a revision, then 400 INVALID_IF_MATCH', async () => {
    const order = await givenOrder(app, alice);
    const res = await app.request.patch(`/orders/${order.id}/status`).set(bearer(admin.token)).set('If-Match', 'yesterday').send({ status: 'PROCESSING' });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('INVALID_IF_MATCH');
  });

  it('when an admin targets an order that does not exist, then 404', async () => {
    const res = await setStatus(randomUUID(), 'PROCESSING');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
  });
});

describe('POST /orders/:id/cancel', () => {
  it('when the owner cancels after a failed payment, then 200 CANCELLED', async () => {
    const order = await givenOrder(app, alice);
    await givenPaymentFailed(order.id);
    expect(await statusOf(order.id)).toBe('PAYMENT_FAILED');
    const res = await cancel(order.id, alice.token);
    expect(res.status).toBe(200);
    expect(res.body.data.order.status).toBe('CANCELLED');
  });

  it('when the owner cancels a paid order, then 409 naming PAID and CANCELLED; an admin may, and a refund is requested', async () => {
    const order = await givenOrder(app, alice);
    await markPaid(order.id);

    const byOwner = await cancel(order.id, alice.token);
    expect(byOwner.status).toBe(409);
    expect(errorMessage(byOwner)).toContain('PAID');
    expect(errorMessage(byOwner)).toContain('CANCELLED');

    const byAdmin = await cancel(order.id, admin.token);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.data.order).toMatchObject({ status: 'CANCELLED', paymentStatus: 'REFUND_PENDING' });
  });

  it('when an admin cancels a shipped order or anyone cancels twice, then 409', async () => {
    const shipped = await givenOrder(app, alice);
    await markPaid(shipped.id);
    await setStatus(shipped.id, 'PROCESSING');
    await setStatus(shipped.id, 'SHIPPED');
    const late = await cancel(shipped.id, admin.token);
    expect(late.status).toBe(409);
    expect(errorMessage(late)).toContain('SHIPPED');

    const once = await givenOrder(app, alice);
    expect((await cancel(once.id, alice.token)).status).toBe(200);
    const twice = await cancel(once.id, alice.token);
    expect(twice.status).toBe(409);
    expect(errorCode(twice)).toBe('ORDER_INVALID_TRANSITION');
  });

  it('when the body has an unknown field or If-Match is stale, then 400 or 412 and the order stays pending', async () => {
    const order = await givenOrder(app, alice);
    expect((await cancel(order.id, alice.token, { reason: 'x', refund: 100 })).status).toBe(400);
    for (const reason of ['a\u0000b', '\ud800', 'two\nlines']) {
      const res = await cancel(order.id, alice.token, { reason });
      expect({ reason: JSON.stringify(reason), status: res.status, code: errorCode(res) }).toEqual({ reason: JSON.stringify(reason), status: 400, code: 'VALIDATION_FAILED' });
    }
    const stale = await app.request.post(`/orders/${order.id}/cancel`).set(bearer(alice.token)).set('If-Match', '5').send({});
    expect(stale.status).toBe(412);
    expect(await statusOf(order.id)).toBe('PENDING');
  });
});

describe('POST /orders/:id/mark-paid', () => {
  it('when an admin confirms a manual payment, then 200 PAID with the payment recorded', async () => {
    const order = await givenOrder(app, alice);
    const res = await markPaid(order.id);
    expect(res.status).toBe(200);
    expect(res.body.data.order).toMatchObject({ id: order.id, status: 'PAID', paymentStatus: 'SUCCEEDED', paymentProvider: 'MANUAL' });
  });

  it('when the order is paid by a provider, then 409 PAYMENT_METHOD_MISMATCH', async () => {
    // This app has no Stripe keys, so the STRIPE order is placed through the command handler.
    const order = { id: randomUUID() };
    await handleOrderCommand(app.store, order.id, {
      type: 'PlaceOrder',
      data: {
        orderId: order.id,
        userId: alice.id,
        items: [{ productId: mug.id, sku: mug.sku, name: mug.name, quantity: 1, unitAmount: mug.unitAmount, lineAmount: mug.unitAmount }],
        currency: 'USD',
        paymentMethod: 'STRIPE',
        now: new Date().toISOString(),
      },
    });
    const res = await markPaid(order.id);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('PAYMENT_METHOD_MISMATCH');
    expect(await statusOf(order.id)).toBe('PENDING');
  });

  it('when the order is already paid or cancelled, then 409 naming the current state', async () => {
    const paid = await givenOrder(app, alice);
    await markPaid(paid.id);
    const again = await markPaid(paid.id);
    expect(again.status).toBe(409);
    expect(errorMessage(again)).toContain('PAID');

    const cancelled = await givenOrder(app, alice);
    await cancel(cancelled.id, alice.token);
    const res = await markPaid(cancelled.id);
    expect(res.status).toBe(409);
    expect(errorMessage(res)).toContain('CANCELLED');
  });

  it('when the owner (not an admin) marks their own order paid, then 403 and it stays pending', async () => {
    const order = await givenOrder(app, alice);
    const res = await app.request.post(`/orders/${order.id}/mark-paid`).set(bearer(alice.token));
    expect(res.status).toBe(403);
    expect(await statusOf(order.id)).toBe('PENDING');
  });

  it('when the body carries fields, then 400 (nothing to set on a manual payment)', async () => {
    const order = await givenOrder(app, alice);
    const res = await app.request.post(`/orders/${order.id}/mark-paid`).set(bearer(admin.token)).send({ amount: 1 });
    expect(res.status).toBe(400);
    expect(await statusOf(order.id)).toBe('PENDING');
  });
});

describe("another user's order (BOLA)", () => {
  let order: { id: string };
  beforeAll(async () => {
    order = await givenOrder(app, alice);
  });

  it('when another user cancels it, then 404 and it stays pending', async () => {
    const res = await cancel(order.id, bob.token);
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('ORDER_NOT_FOUND');
    expect(await statusOf(order.id)).toBe('PENDING');
  });

  it('when another user changes its status or marks it paid, then 403 whether or not it exists, and it stays pending', async () => {
    for (const id of [order.id, randomUUID()]) {
      expect((await setStatus(id, 'PROCESSING', bob.token)).status).toBe(403);
      expect((await app.request.post(`/orders/${id}/mark-paid`).set(bearer(bob.token))).status).toBe(403);
    }
    expect(await statusOf(order.id)).toBe('PENDING');
  });
});

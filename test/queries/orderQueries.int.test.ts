import { randomUUID } from 'node:crypto';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { getOrder, getOrderHistory, listOrders, listOrdersQuerySchema } from '../../src/queries/orderQueries';
import { ConsistencyTimeoutError, ProjectionWaiter } from '../../src/queries/consistency';
import { readModelProjections } from '../../src/infra/runtime';
import { nextTime } from '../support/orderBuilders';
import { createLedger, seedOrder, startProjector, waitUntilProjected, type Ledger } from '../support/ledgerHarness';

const query = (input: Record<string, unknown>) => listOrdersQuerySchema.parse(input);

describe('order queries', () => {
  let ledger: Ledger;
  const alice = randomUUID();
  const bob = randomUUID();
  const aliceOrders: string[] = [];

  beforeAll(async () => {
    ledger = await createLedger();
    const projector = startProjector(ledger);
    for (let i = 0; i < 25; i++) aliceOrders.push(await seedOrder(ledger, { userId: alice, steps: i % 3 }));
    for (let i = 0; i < 5; i++) await seedOrder(ledger, { userId: bob, steps: 1 });
    await waitUntilProjected(ledger);
    await projector.stop();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('when a user lists a page, then only their orders come back newest first with the total', async () => {
    const page = await listOrders(ledger.db.knex, query({ page: 2, limit: 10 }), { userId: alice });
    expect(page.meta).toMatchObject({ total: 25, page: 2, limit: 10 });
    expect(page.data.map((o) => o.id)).toEqual([...aliceOrders].reverse().slice(10, 20));
    expect(page.data.every((o) => o.userId === alice)).toBe(true);
  });

  it('when filtered by status, then only orders in that status are counted and listed', async () => {
    const paid = await listOrders(ledger.db.knex, query({ status: 'PAID', limit: 100 }), { userId: alice });
    expect(paid.meta.total).toBe(8);
    expect(paid.data.every((o) => o.status === 'PAID')).toBe(true);
    const all = await listOrders(ledger.db.knex, query({ status: 'PAID', limit: 100 }), {});
    expect(all.meta.total).toBe(13);
  });

  it('when an admin filters by user, then that user’s orders come back', async () => {
    const page = await listOrders(ledger.db.knex, query({ userId: bob }), {});
    expect(page.meta.total).toBe(5);
    expect(page.data.every((o) => o.userId === bob)).toBe(true);
  });

  it('when following cursors, then every order is visited once, in order, ending with a null cursor', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await listOrders(ledger.db.knex, query({ limit: 7, ...(cursor ? { cursor } : {}) }), { userId: alice });
      seen.push(...page.data.map((o) => o.id));
      if (!page.meta.nextCursor) break;
      cursor = page.meta.nextCursor;
    }
    expect(seen).toEqual([...aliceOrders].reverse());
  });

  it('when a cursor is forged, then it is rejected as invalid', async () => {
    await expect(listOrders(ledger.db.knex, query({ cursor: 'bm90LWEtY3Vyc29y' }), {})).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });

  const forged = (cursor: unknown): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

  it.each([
    ['year 0000, which PostgreSQL cannot hold', { placedAt: '0000-01-01T00:00:00Z', id: randomUUID() }],
    ['a year before 1970', { placedAt: '1900-01-01T00:00:00Z', id: randomUUID() }],
    ['a six-digit year', { placedAt: '+275760-09-13T00:00:00.000Z', id: randomUUID() }],
    ['an impossible date', { placedAt: '2026-02-30T25:61:00Z', id: randomUUID() }],
    ['an id that is no UUID', { placedAt: '2026-03-01T00:00:00.000Z', id: "1' or '1'='1" }],
    ['extra fields', { placedAt: '2026-03-01T00:00:00.000Z', id: randomUUID(), userId: randomUUID() }],
  ])('when a forged cursor carries %s, then it is refused as INVALID_CURSOR before any query', async (_label, cursor) => {
    await expect(listOrders(ledger.db.knex, query({ cursor: forged(cursor) }), {})).rejects.toMatchObject({ code: 'INVALID_CURSOR', details: undefined });
  });

  it('when a cursor this API issued is sent back, then it is accepted', async () => {
    const first = await listOrders(ledger.db.knex, query({ limit: 2 }), {});
    const next = await listOrders(ledger.db.knex, query({ limit: 2, cursor: first.meta.nextCursor! }), {});
    expect(next.data).toHaveLength(2);
  });

  it('when limit exceeds 100 or unknown parameters are given, then the query is rejected', () => {
    expect(listOrdersQuerySchema.safeParse({ limit: '101' }).success).toBe(false);
    expect(listOrdersQuerySchema.safeParse({ sort: 'x' }).success).toBe(false);
    expect(listOrdersQuerySchema.parse({ limit: '100', page: '3' })).toMatchObject({ limit: 100, page: 3 });
  });

  it('when another user asks for an order or its history, then it is not visible', async () => {
    const orderId = aliceOrders[0]!;
    expect(await getOrder(ledger.db.knex, orderId, { userId: bob })).toBeUndefined();
    expect(await getOrderHistory(ledger.db.knex, orderId, { userId: bob })).toBeUndefined();
    const mine = await getOrder(ledger.db.knex, orderId, { userId: alice });
    expect(mine).toMatchObject({ id: orderId, totalAmount: 1999, currency: 'USD', paymentMethod: 'MANUAL', status: 'PENDING' });
  });

  it('when reading history, then each transition lists from, to and actor oldest first', async () => {
    const history = await getOrderHistory(ledger.db.knex, aliceOrders[2]!, {});
    expect(history!.map((h) => [h.eventType, h.fromStatus, h.toStatus, h.actor.type])).toEqual([
      ['OrderPlaced', null, 'PENDING', 'user'],
      ['PaymentSucceeded', 'PENDING', 'PAID', 'admin'],
      ['OrderStatusChanged', 'PAID', 'PROCESSING', 'admin'],
    ]);
  });

  it('when the table is large, then the user listing reads its index in order without sorting', async () => {
    const knex = ledger.db.knex;
    // Other users' rows give the planner a realistic selectivity; they are removed afterwards.
    await knex.raw(`
      insert into orders (id, user_id, status, items, total_amount, currency, payment_method, payment_status, revision, position, placed_at, updated_at)
      select gen_random_uuid(), gen_random_uuid(), 'PENDING', '[]', 100, 'USD', 'MANUAL', 'PENDING', 0, 0, now() - (g || ' seconds')::interval, now()
      from generate_series(1, 20000) g`);
    await knex.raw('analyze orders');
    try {
      const plan = (await knex.raw('explain (format json) select * from orders where user_id = ? order by placed_at desc, id desc limit 10', [alice])) as {
        rows: unknown[];
      };
      const text = JSON.stringify(plan.rows[0]);
      expect(text).toContain('orders_user_placed_idx');
      expect(text).not.toContain('"Sort"');
    } finally {
      await knex('orders').where('total_amount', 100).delete();
    }
  });
});

describe('read-your-writes', () => {
  let ledger: Ledger;
  beforeAll(async () => {
    ledger = await createLedger();
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('when a command returns a position, then waiting for it resolves once the projector reaches it, and times out when it does not', async () => {
    const waiter = new ProjectionWaiter(
      ledger.db.knex,
      ledger.db.url,
      readModelProjections.map((p) => p.name),
    );
    await waiter.start();
    try {
      const orderId = await seedOrder(ledger);
      const result = await handleOrderCommand(ledger.store, orderId, { type: 'MarkPaid', data: { now: nextTime() } });
      const started = Date.now();
      await expect(waiter.waitFor(result.position!, 300)).rejects.toBeInstanceOf(ConsistencyTimeoutError);
      expect(Date.now() - started).toBeLessThan(3000);
      const projector = startProjector(ledger);
      await waiter.waitFor(result.position!, 10_000);
      expect((await getOrder(ledger.db.knex, orderId, {}))?.status).toBe('PAID');
      await projector.stop();
    } finally {
      await waiter.close();
    }
  });
});

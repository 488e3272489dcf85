import { loadStock, readStockEvents } from '../../src/commands/stock/stockStream';
import { placeOrder } from '../../src/commands/placeOrder';
import { evolveStock, initialStockState } from '../../src/commands/stock/stockDecider';
import { verifyReadModels } from '../../src/cli/verify';
import { readModelProjections } from '../../src/projections/readModels';
import { startFakeEsdb, type FakeEsdb } from '../fakes/esdb/fakeEsdb';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

const BUYERS = 64;
const UNITS = 5;

/**
 * The promise stock makes: concurrent buyers of the last units never oversell. Through the HTTP API
 * on each event store (PostgreSQL, and KurrentDB through the real client against the gRPC test server).
 */
describe.each(['postgres', 'esdb'] as const)(`${BUYERS} buyers of the last ${UNITS} units on the %s event store`, (kind) => {
  let esdb: FakeEsdb | undefined;
  let app: TestApp;
  let admin: TestUser;
  let buyers: TestUser[];

  beforeAll(async () => {
    if (kind === 'esdb') esdb = await startFakeEsdb();
    app = await startTestApp(esdb ? { EVENTSTORE_CONNECTION_STRING: esdb.connectionString } : {});
    admin = await givenAdmin(app);
    buyers = await Promise.all(Array.from({ length: 8 }, () => givenUser(app)));
  }, 60_000);

  afterAll(async () => {
    await app.stop();
    await esdb?.close();
  });

  it(`when ${BUYERS} buyers order 1 each at once, then exactly ${UNITS} orders, ${BUYERS - UNITS} × 409 OUT_OF_STOCK, stock never negative, audit verify clean`, async () => {
    expect(app.runtime.deps.store.kind).toBe(kind);
    const product = await givenProduct(app);
    const received = await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity: UNITS });
    expect(received.status).toBe(200);

    const answers = await Promise.all(
      Array.from({ length: BUYERS }, (_, i) =>
        app.request
          .post('/orders')
          .set(bearer(buyers[i % buyers.length]!.token))
          .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL' }),
      ),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(UNITS);
    expect(statuses.filter((s) => s === 409)).toHaveLength(BUYERS - UNITS);
    for (const res of answers.filter((r) => r.status === 409)) {
      expect(res.body.error).toMatchObject({ code: 'OUT_OF_STOCK', details: { products: [{ productId: product.id, requested: 1, available: 0 }] } });
    }

    // Every state the stream passed through, not just the last one.
    const events = await readStockEvents(app.runtime.deps.store, product.id);
    let state = initialStockState;
    for (const stored of events) {
      state = evolveStock(state, stored.event);
      if (state.tracked) {
        expect(state.onHand).toBeGreaterThanOrEqual(0);
        expect(state.reserved).toBeLessThanOrEqual(state.onHand);
      }
    }
    expect(events.filter((e) => e.event.type === 'StockReserved')).toHaveLength(UNITS);
    const placedIds = answers
      .filter((r) => r.status === 201)
      .map((r) => r.body.data.order.id as string)
      .sort();
    const reservedFor = events.flatMap((e) => (e.event.type === 'StockReserved' ? [e.event.data.orderId] : [])).sort();
    expect(reservedFor).toEqual(placedIds);

    await app.runtime.deps.waiter.waitFor(await app.runtime.deps.store.headPosition(), 10_000);
    const shown = await app.request.get(`/products/${product.id}`);
    expect(shown.body.data).toMatchObject({ onHand: UNITS, reserved: UNITS, available: 0 });

    const report = await verifyReadModels({
      knex: app.runtime.deps.knex,
      store: app.runtime.deps.store,
      projections: readModelProjections,
      batchSize: 200,
      maxReported: 10,
    });
    expect(report.mismatches).toEqual([]);
    expect(report.mismatchCount).toBe(0);
    expect(report.checkpoints).toHaveProperty('product_stock');
  }, 120_000);

  it(`when ${BUYERS} placements race for the stream itself (no in-process turns), then still exactly ${UNITS} orders and the rest OUT_OF_STOCK`, async () => {
    const product = await givenProduct(app);
    await app.request.post(`/products/${product.id}/stock/receive`).set(bearer(admin.token)).send({ quantity: UNITS });
    const { knex, store, logger, dataKeys } = app.runtime.deps;
    const outcomes = await Promise.allSettled(
      Array.from({ length: BUYERS }, (_, i) =>
        placeOrder(
          { knex, store, logger, dataKeys },
          {
            userId: buyers[i % buyers.length]!.id,
            items: [{ productId: product.id, quantity: 1 }],
            paymentMethod: 'MANUAL',
            idempotencyKey: undefined,
            body: {},
            now: new Date().toISOString(),
            context: {},
          },
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(UNITS);
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { code?: string }).code] : []));
    expect(refused).toEqual(Array.from({ length: BUYERS - UNITS }, () => 'OUT_OF_STOCK'));
    const stock = await loadStock(store, product.id);
    expect(stock.state).toMatchObject({ onHand: UNITS, reserved: UNITS });
  }, 120_000);
});

import { startFakeOpenRouter, text, toolCall, type FakeOpenRouter, type RecordedRequest } from '../fakes/openrouter/fakeOpenRouter';
import { bearer, givenAdmin, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let fake: FakeOpenRouter;
let app: TestApp;

beforeAll(async () => {
  fake = await startFakeOpenRouter();
  app = await startTestApp({ OPEN_ROUTER_KEY: fake.apiKey, OPEN_ROUTER_BASE_URL: fake.baseUrl, CHATBOT_RATE_LIMIT_MAX: '100000' });
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await fake?.close();
});
beforeEach(() => fake.reset());

const address = { name: 'Katherine Johnson', line1: '9 Orbit Road', city: 'Hampton', postalCode: '23666', country: 'US' };
const serverWritten = (request: RecordedRequest): string => JSON.stringify(request.body.messages.filter((m) => m.role === 'system' || m.role === 'tool'));

async function placeWithAddress(user: TestUser): Promise<string> {
  const product = await givenProduct(app);
  const res = await app.request
    .post('/orders')
    .set(bearer(user.token))
    .send({ items: [{ productId: product.id, quantity: 1 }], paymentMethod: 'MANUAL', shippingAddress: address });
  return res.body.data.order.id as string;
}

describe('chatbot and shipping addresses', () => {
  it("when the owner asks, then the model's context has their order's address", async () => {
    const kate = await givenUser(app);
    await placeWithAddress(kate);
    fake.script(text('It ships to Hampton.'));
    expect((await app.request.post('/chatbot').set(bearer(kate.token)).send({ message: 'Where does my order ship to?' })).status).toBe(200);
    expect(serverWritten(fake.requests[0]!)).toContain('9 Orbit Road');
  });

  it("when an admin asks about a customer's order, then no address of that customer reaches the model", async () => {
    const customer = await givenUser(app);
    const orderId = await placeWithAddress(customer);
    const admin = await givenAdmin(app);
    fake.script(toolCall('get_order', { order_id: orderId }));
    fake.respondWith(() => text('I cannot find that order in your account.'));
    expect(
      (
        await app.request
          .post('/chatbot')
          .set(bearer(admin.token))
          .send({ message: `Where does order ${orderId} ship to?` })
      ).status,
    ).toBe(200);
    expect(fake.requests.length).toBeGreaterThan(1);
    for (const request of fake.requests) expect(serverWritten(request)).not.toMatch(/Orbit Road|Katherine/);
  });
});

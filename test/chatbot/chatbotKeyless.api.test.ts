import { bearer, givenAdmin, givenOrder, givenProduct, givenUser, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';

let app: TestApp;

beforeAll(async () => {
  // No OPEN_ROUTER_KEY: the assistant answers from the read model only.
  app = await startTestApp({ CHATBOT_RATE_LIMIT_MAX: '100000' });
});
afterAll(async () => {
  await app?.stop();
});

function ask(message: string, user?: TestUser) {
  const req = app.request.post('/chatbot');
  if (user) req.set(bearer(user.token));
  return req.send({ message });
}

describe('POST /chatbot without OPEN_ROUTER_KEY', () => {
  it('when a signed-in user asks "where is my order?", then the reply lists their recent orders from the read model', async () => {
    const user = await givenUser(app);
    const product = await givenProduct(app, { unitAmount: 1250, currency: 'EUR' });
    const order = await givenOrder(app, user, { items: [{ productId: product.id, quantity: 2 }] });

    const res = await ask('Where is my order?', user);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reply: expect.any(String) });
    expect(res.body.reply).toContain('Your most recent order:');
    expect(res.body.reply).toContain(`Order ${order.id} is awaiting payment (total 25.00 EUR`);
  });

  it('when a user asks for the status of one of their orders by id, then that order is described as the read model shows it now', async () => {
    const user = await givenUser(app);
    const order = await givenOrder(app, user);
    const admin = await givenAdmin(app);
    const paid = await app.request.post(`/orders/${order.id}/mark-paid`).set(bearer(admin.token)).send({});
    expect(paid.status).toBe(200);

    const res = await ask(`status of order ${order.id.toUpperCase()}`, user);

    expect(res.status).toBe(200);
    expect(res.body.reply).toMatch(new RegExp(`^Order ${order.id} is paid and waiting to be prepared \\(total 19\\.99 USD; placed .+, last updated .+\\)\\.$`));
  });

  it("when a user asks for the status of another user's order by id, then the reply says it is not in their account and reveals nothing of it", async () => {
    const owner = await givenUser(app);
    const theirs = await givenOrder(app, owner, { items: [{ productId: (await givenProduct(app, { unitAmount: 4242 })).id, quantity: 1 }] });
    const asker = await givenUser(app);
    await givenOrder(app, asker);

    const res = await ask(`Where is order ${theirs.id}?`, asker);

    expect(res.status).toBe(200);
    expect(res.body.reply).toBe(`I cannot find order ${theirs.id} in your account.`);
  });

  it('when a user without orders asks about their order, then the reply says they have none', async () => {
    const res = await ask('Has my order shipped yet?', await givenUser(app));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ reply: 'You have no orders yet.' });
  });

  it.each([['What is your return policy?'], ['Can I pay with PayPal?'], ['hello']])(
    'when the question "%s" is not about an order status, then the reply says the assistant is not configured',
    async (message) => {
      const res = await ask(message, await givenUser(app));
      expect(res.status).toBe(200);
      expect(res.body.reply).toMatch(/not configured/);
    },
  );

  it('when an anonymous caller asks about an order, then the reply asks them to sign in and shows no order data', async () => {
    const user = await givenUser(app);
    const order = await givenOrder(app, user);

    const res = await ask(`Where is my order ${order.id}?`);

    expect(res.status).toBe(200);
    expect(res.body.reply).toMatch(/sign in/i);
    expect(res.body.reply).not.toContain('awaiting payment');
    expect(res.body.reply).not.toContain('19.99');
  });

  it('when an anonymous caller asks a general question, then the reply says the assistant is not configured', async () => {
    const res = await ask('Do you ship abroad?');
    expect(res.status).toBe(200);
    expect(res.body.reply).toMatch(/not configured/);
  });
});

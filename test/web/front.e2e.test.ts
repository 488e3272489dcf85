import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, ConsoleMessage, Locator, Page, WebSocketRoute } from 'playwright-core';
import { bearer, givenAdmin, givenProduct, uniqueEmail, type TestApp, type TestUser } from '../support/apiHarness';
import { launchBrowser, seriousAxeViolations, textOf, type TestBrowser } from '../support/browser';
import { orderState } from '../support/paymentsHarness';
import { createCluster, type Cluster } from '../support/realtimeHarness';
import { FakePayPal } from '../fakes/paypal/fakePayPal';

/**
 * The web front in a real Chromium against a real app (api, projector and notifier): a customer and
 * an admin in two browser contexts, each page checked with axe-core and photographed.
 */

// Generous bounds, not waits: projector and notifier read $all below the oldest transaction open in
// the whole PostgreSQL cluster, so a long transaction of a test running beside this one delays pushes.
jest.setTimeout(120_000);

const SCREENSHOTS = path.join(__dirname, 'screenshots');
const UI_TIMEOUT_MS = 30_000;

let cluster: Cluster;
let app: TestApp;
let paypal: FakePayPal;
let chromium: TestBrowser | undefined;
let customerContext: BrowserContext;
let adminContext: BrowserContext;
let customer: Page;
let board: Page;
let admin: TestUser;
const customerEmail = uniqueEmail('shopper');
const customerPassword = `Blue-mug-${Math.random().toString(36).slice(2, 10)}!`;
let orderId = '';
let short = '';
const loads = new Map<Page, number>();
/**
 * The board's network: every WebSocket of the admin context passes through Playwright (set before
 * the page loads, since socket.io-client keeps the WebSocket constructor it found at start-up).
 * `cutBoardNetwork` closes the open one and refuses new ones until `restoreBoardNetwork`.
 */
let boardNetworkDown = false;
let boardSocket: WebSocketRoute | undefined;
let boardConnections = 0;
async function cutBoardNetwork(): Promise<void> {
  boardNetworkDown = true;
  await boardSocket?.close({ code: 1001, reason: 'network down (test)' });
}
function restoreBoardNetwork(): void {
  boardNetworkDown = false;
}
const problems: string[] = [];

function watch(page: Page, name: string): void {
  loads.set(page, 0);
  page.on('load', () => loads.set(page, (loads.get(page) ?? 0) + 1));
  page.on('pageerror', (error) => problems.push(`${name}: page error ${error.message}`));
  page.on('console', (message: ConsoleMessage) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`${name}: ${message.text()}`);
  });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
}

async function checkPage(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const violations = await seriousAxeViolations(page);
  expect({ page: name, violations }).toEqual({ page: name, violations: [] });
}

const card = (id: string): Locator => board.getByRole('article', { name: `Order ${id.slice(0, 8)}` });
const column = (title: string): Locator => board.getByRole('region', { name: new RegExp(`^${title} \\(`) });
const connection = (page: Page): Locator => page.locator('#connection-status');

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  paypal = await FakePayPal.start();
  cluster = await createCluster('web');
  app = await cluster.start({
    PAYPAL_CLIENT_ID: paypal.clientId,
    PAYPAL_CLIENT_SECRET: paypal.clientSecret,
    PAYPAL_WEBHOOK_ID: paypal.webhookId,
    PAYPAL_API_BASE: paypal.url,
  });
  admin = await givenAdmin(app);
  await givenProduct(app, { name: 'Blue mug', unitAmount: 1250, currency: 'USD' });
  await givenProduct(app, { name: 'Green tea', unitAmount: 1500, currency: 'JPY' });
  chromium = await launchBrowser();
  const options = { locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1360, height: 900 } };
  customerContext = await chromium.browser.newContext(options);
  adminContext = await chromium.browser.newContext(options);
  await adminContext.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (boardNetworkDown) {
      void ws.close({ code: 1006, reason: 'network down (test)' });
      return;
    }
    boardConnections += 1;
    boardSocket = ws;
    ws.connectToServer();
  });
  customer = await customerContext.newPage();
  board = await adminContext.newPage();
  watch(customer, 'customer');
  watch(board, 'admin');
});

afterAll(async () => {
  try {
    await chromium?.close();
  } finally {
    await cluster?.stop();
    await paypal?.close();
  }
});

describe('web front in Chromium', () => {
  it('when a new customer registers on the sign-in page with the keyboard alone, then the shop opens with prices in each currency and only configured payment methods', async () => {
    await customer.goto(app.url);
    await customer.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    await checkPage(customer, '1-sign-in');

    // Keyboard only: the skip link comes first, then the form in order.
    const focused = customer.locator(':focus');
    await customer.keyboard.press('Tab');
    await textOf(focused, 'Skip to content');
    await customer.keyboard.press('Enter');
    expect(await focused.getAttribute('id')).toBe('main');
    await customer.keyboard.press('Tab');
    expect(await focused.getAttribute('id')).toBe('email');
    await customer.keyboard.type(customerEmail);
    await customer.keyboard.press('Tab');
    expect(await focused.getAttribute('id')).toBe('password');
    await customer.keyboard.type(customerPassword);
    await customer.keyboard.press('Tab');
    await customer.keyboard.press('Tab');
    await textOf(focused, 'Create account');
    await customer.keyboard.press('Enter');

    await customer.getByRole('heading', { name: 'Shop', level: 1 }).waitFor();
    expect(customer.url()).toBe(`${app.url}/#/shop`);
    const mug = customer.getByRole('listitem').filter({ has: customer.getByRole('heading', { name: 'Blue mug' }) });
    await textOf(mug, '$12.50');
    await textOf(customer.getByRole('listitem').filter({ has: customer.getByRole('heading', { name: 'Green tea' }) }), '¥1,500');
    const methods = await customer.getByLabel('Payment method').locator('option').allTextContents();
    expect(methods).toEqual(['Manual payment (bank transfer)', 'PayPal']);
    await textOf(connection(customer), 'Updates: live');
    // The token is in this tab's storage, never in the address.
    expect(customer.url()).not.toMatch(/ey[A-Za-z0-9_-]{10,}/);
  });

  it('when the admin signs in, then the board opens live', async () => {
    await board.goto(app.url);
    await board.getByLabel('Email').fill(admin.email);
    await board.getByLabel('Password').fill(admin.password);
    await board.keyboard.press('Enter');
    await board.getByRole('heading', { name: 'Order board', level: 1 }).waitFor();
    await textOf(connection(board), 'Updates: live');
  });

  it('when the customer places an order, then it appears on the admin board without a reload', async () => {
    const mug = customer.getByRole('listitem').filter({ has: customer.getByRole('heading', { name: 'Blue mug' }) });
    await mug.getByLabel('Quantity of Blue mug').fill('2');
    await mug.getByRole('button', { name: 'Add Blue mug to cart' }).click();
    const cart = customer.getByRole('region', { name: 'Cart' });
    await textOf(cart, '$25.00');
    await checkPage(customer, '2-shop');

    await customer.getByRole('button', { name: 'Place order' }).click();
    await customer.waitForURL(/#\/orders\/[0-9a-f-]{36}$/);
    orderId = customer.url().split('/').pop()!;
    short = orderId.slice(0, 8);
    await customer.getByRole('heading', { name: `Order ${short}`, level: 1 }).waitFor();
    await textOf(customer.locator('#order-status'), 'PENDING');

    await card(orderId).waitFor();
    await textOf(card(orderId), '$25.00');
    await column('Pending payment')
      .getByRole('article', { name: `Order ${short}` })
      .waitFor();
    expect(loads.get(board)).toBe(1);
  });

  it('when the admin marks it paid, starts processing and ships it, then the customer page shows each status live', async () => {
    await card(orderId).getByRole('button', { name: 'Mark paid' }).click();
    await column('Paid')
      .getByRole('article', { name: `Order ${short}` })
      .waitFor();
    await textOf(customer.locator('#order-status'), 'PAID');

    await card(orderId).getByRole('button', { name: 'Start processing' }).click();
    await column('Processing')
      .getByRole('article', { name: `Order ${short}` })
      .waitFor();
    await textOf(customer.locator('#order-status'), 'PROCESSING');

    await card(orderId).getByRole('button', { name: 'Mark shipped' }).click();
    await column('Shipped')
      .getByRole('article', { name: `Order ${short}` })
      .waitFor();
    await textOf(customer.locator('#order-status'), 'SHIPPED');

    // Only pushes write this list: each transition must have arrived over the socket. (The placement
    // push may come before or after the page opened, so "new → PENDING" may or may not be there.)
    const log = customer.getByRole('region', { name: 'Live updates' }).getByRole('listitem');
    await textOf(log, 'PROCESSING → SHIPPED').catch(async (error: unknown) => {
      throw new Error(`live updates on the customer's page: ${JSON.stringify(await log.allTextContents())}; ${String(error)}`);
    });
    const transitions = (await log.allTextContents()).map((line) => /: (\S+ → \S+)$/.exec(line)?.[1]).filter((t) => t !== 'new → PENDING');
    expect(transitions).toEqual(['PENDING → PAID', 'PAID → PROCESSING', 'PROCESSING → SHIPPED']);
    expect(loads.get(customer)).toBe(1);
    expect(loads.get(board)).toBe(1);
    await textOf(card(orderId), 'rev 3');
    await checkPage(customer, '3-order-detail');
    await checkPage(board, '4-admin-board');
  });

  it('when the order changes behind the board while its socket is down, then acting on the old revision shows the conflict and the fresh state, and the board resumes', async () => {
    // The board's network drops: its socket closes and reconnecting fails until it is restored.
    const connectionsBefore = boardConnections;
    await cutBoardNetwork();
    await textOf(connection(board), 'Updates: reconnecting');

    const behind = await app.request.patch(`/orders/${orderId}/status`).set(bearer(admin.token)).send({ status: 'DELIVERED' });
    expect(behind.status).toBe(200);
    await textOf(customer.locator('#order-status'), 'DELIVERED');
    // While the board is away a new order comes in: it must show up once the board is back.
    const login = await app.request.post('/auth/login').send({ email: customerEmail, password: customerPassword });
    const spoon = await givenProduct(app, { name: 'Spoon', unitAmount: 300 });
    const placedMeanwhile = await app.request
      .post('/orders')
      .set(bearer((login.body as { token: string }).token))
      .send({ items: [{ productId: spoon.id, quantity: 1 }], paymentMethod: 'MANUAL' });
    expect(placedMeanwhile.status).toBe(201);
    const lateId = (placedMeanwhile.body as { data: { order: { id: string } } }).data.order.id;

    await textOf(card(orderId), 'rev 3');
    await card(orderId).getByRole('button', { name: 'Mark delivered' }).click();
    const alert = board.getByRole('alert');
    await textOf(alert, `Conflict: order ${short} changed since this board showed it (you acted on revision 3); nothing was done. It is now DELIVERED at revision 4.`);
    await column('Delivered')
      .getByRole('article', { name: `Order ${short}` })
      .waitFor();
    await textOf(card(orderId), 'rev 4');
    await checkPage(board, '5-admin-board-conflict');
    // Still cut off: the new order has not reached the board, and no socket got through.
    await textOf(connection(board), 'Updates: reconnecting');
    expect(await card(lateId).count()).toBe(0);
    expect(boardConnections).toBe(connectionsBefore);

    restoreBoardNetwork();
    await textOf(connection(board), 'Updates: live');
    expect(boardConnections).toBe(connectionsBefore + 1);
    await column('Pending payment')
      .getByRole('article', { name: `Order ${lateId.slice(0, 8)}` })
      .waitFor();
    expect(loads.get(board)).toBe(1);
  });

  it('when the customer opens the timeline and moves the slider to the first event, then it shows the order as PENDING', async () => {
    await customer.getByRole('link', { name: 'Audit timeline of this order' }).click();
    await customer.getByRole('heading', { name: `Timeline of order ${short}`, level: 1 }).waitFor();
    const rows = customer.getByRole('table').getByRole('row');
    await textOf(rows.nth(5), 'SHIPPED → DELIVERED');
    expect(await rows.count()).toBe(6);
    await textOf(rows.nth(1), `OrderPlaced`);
    await textOf(rows.nth(1), 'customer (you)');
    await textOf(rows.nth(1), 'new → PENDING');
    await textOf(rows.nth(2), /admin [0-9a-f]{8}/);

    const slider = customer.getByRole('slider', { name: 'Show the order as it was after event' });
    expect(await slider.inputValue()).toBe('5');
    await textOf(customer.locator('#timeline-state'), 'DELIVERED');
    await slider.focus();
    await customer.keyboard.press('Home');
    expect(await slider.inputValue()).toBe('1');
    await customer.getByRole('heading', { name: 'State after event 1: OrderPlaced' }).waitFor();
    await textOf(customer.locator('#timeline-state'), 'PENDING');
    await textOf(customer.locator('#timeline-state'), '$25.00');
    await customer.keyboard.press('ArrowRight');
    await textOf(customer.locator('#timeline-state'), 'PAID');
    await customer.keyboard.press('Home');
    await textOf(customer.locator('#timeline-state'), 'PENDING');
    await checkPage(customer, '6-timeline');
  });

  it('when the customer lists their orders, then both orders show with their live statuses', async () => {
    await customer.getByRole('link', { name: 'My orders' }).click();
    await customer.getByRole('heading', { name: 'My orders', level: 1 }).waitFor();
    const row = customer.getByRole('row').filter({ has: customer.getByRole('link', { name: short }) });
    await textOf(row, 'DELIVERED');
    expect(await customer.getByRole('table').getByRole('row').count()).toBe(3);
    await checkPage(customer, '7-my-orders');
  });

  it('when the customer pays with PayPal, then the approval link leads to PayPal and completing it marks the order paid live', async () => {
    await customer.getByRole('link', { name: 'Shop' }).click();
    const mug = customer.getByRole('listitem').filter({ has: customer.getByRole('heading', { name: 'Blue mug' }) });
    await mug.getByRole('button', { name: 'Add Blue mug to cart' }).click();
    await customer.getByLabel('Payment method').selectOption('PAYPAL');
    await customer.getByRole('button', { name: 'Place order' }).click();
    await customer.waitForURL(/#\/orders\/[0-9a-f-]{36}$/);
    const paypalOrderId = customer.url().split('/').pop()!;
    const approve = customer.getByRole('link', { name: /Approve the payment at PayPal/ });
    await approve.waitFor();
    const reference = (await orderState(app, paypalOrderId)).paymentReference!;
    const href = (await approve.getAttribute('href')) ?? '';
    expect(href).toContain(reference);
    paypal.approve(reference);
    await customer.getByRole('button', { name: 'I have approved it: complete the payment' }).click();
    await textOf(customer.locator('#order-status'), 'PAID');
    await textOf(customer.getByRole('status'), 'PayPal payment completed.');
  });

  it('when the admin sends an announcement, then the customer sees it live', async () => {
    await board.getByLabel('Message to everyone connected').fill('Shop closes at 18:00 today');
    await board.getByRole('button', { name: 'Send announcement' }).click();
    await textOf(customer.getByRole('region', { name: 'Announcements' }), 'Shop closes at 18:00 today');
    await textOf(board.getByRole('region', { name: 'Announcements' }), 'Shop closes at 18:00 today');
    await checkPage(customer, '8-announcement');
    await column('Paid').getByRole('article').first().waitFor();
    await checkPage(board, '9-admin-board-later');
  });

  it('when every page has run, then no CSP refusal or script error was reported', () => {
    expect(problems).toEqual([]);
  });
});

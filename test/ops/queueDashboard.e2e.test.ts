import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ConsoleMessage, Page } from 'playwright-core';
import { createLogger } from '../../src/infra/logger';
import { createEmailQueue, type EmailQueue } from '../../src/infra/queue/emailQueue';
import { givenAdmin, startTestApp, type TestApp, type TestUser } from '../support/apiHarness';
import { launchBrowser, type TestBrowser } from '../support/browser';
import { eventually } from '../support/realtimeHarness';

/**
 * The queue dashboard in a real Chromium: an admin signed in on the web front follows "Email queue"
 * and bull-board renders under its own CSP, with its API calls answered through the session cookie.
 */
jest.setTimeout(90_000);

const SCREENSHOTS = path.join(__dirname, '../web/screenshots');

let app: TestApp;
let admin: TestUser;
let queue: EmailQueue;
let chromium: TestBrowser | undefined;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  app = await startTestApp({ ROLES: 'api,worker' });
  admin = await givenAdmin(app);
  queue = createEmailQueue(app.runtime.config, createLogger('silent'));
  chromium = await launchBrowser();
});

afterAll(async () => {
  try {
    await chromium?.close();
  } finally {
    await queue?.close();
    await app?.stop();
  }
});

test('when an admin follows "Email queue" from the web front, then bull-board loads with the failed job, and nothing but the third-party web font is refused by the CSP', async () => {
  const jobId = randomUUID();
  await queue.queue.add('order-placed', { eventId: jobId, orderId: randomUUID(), kind: 'order-placed' }, { jobId, attempts: 1 });
  await eventually(async () => (await queue.queue.getJobState(jobId)) === 'failed', 'the job to fail', 15_000);

  const context = await chromium!.browser.newContext({ locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1360, height: 900 } });
  const page: Page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const refused: string[] = [];
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  const apiCalls: number[] = [];
  page.on('response', (response) => {
    if (response.url().includes('/admin/queues/api/')) apiCalls.push(response.status());
  });

  await page.goto(app.url);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Order board', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'Email queue' }).click();
  await page.waitForURL(`${app.url}/admin/queues/`);
  await page.getByText('emails', { exact: true }).first().waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'queue-dashboard.png'), fullPage: true });

  await page.goto(`${app.url}/admin/queues/queue/emails?status=failed`);
  await page.getByText(jobId).first().waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'queue-dashboard-failed.png'), fullPage: true });

  expect(apiCalls.length).toBeGreaterThan(0);
  expect(apiCalls.every((status) => status === 200)).toBe(true);
  expect(errors).toEqual([]);
  expect(refused.filter((text) => !text.includes('fonts.googleapis.com'))).toEqual([]);
  await context.close();
});

import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { handleOrderCommand } from '../../src/commands/orderCommandHandler';
import { WrongExpectedVersionError } from '../../src/infra/eventstore/eventStore';
import { bearer, givenOrder, givenUser, type TestApp, type TestUser } from '../support/apiHarness';
import { families, parseMetrics, samplesOf, valueOf, type Sample } from '../support/metricsText';
import { client, connected, createCluster, eventually, type Cluster } from '../support/realtimeHarness';

const TOKEN = 'metrics-token-0123456789abcdef';

let cluster: Cluster;
let app: TestApp;
let user: TestUser;

beforeAll(async () => {
  cluster = await createCluster('metrics');
  app = await cluster.start({ ROLES: 'api,projector,notifier,worker' });
  user = await givenUser(app);
});

afterAll(async () => {
  await cluster?.stop();
});

async function scrape(url = app.url, token?: string): Promise<{ text: string; samples: Sample[] }> {
  const request = supertest(url).get('/metrics');
  const res = await (token ? request.set('Authorization', `Bearer ${token}`) : request);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return { text: res.text, samples: parseMetrics(res.text) };
}

/** Scrapes until `check` holds (the collectors' values are cached for two seconds). */
async function scrapeUntil(check: (samples: Sample[]) => boolean, what: string, url = app.url): Promise<Sample[]> {
  let last: Sample[] = [];
  await eventually(async () => check((last = (await scrape(url)).samples)), what, 15_000);
  return last;
}

const sum = (samples: readonly Sample[]): number => samples.reduce((total, s) => total + s.value, 0);

async function placeStraightIntoTheStore(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const orderId = randomUUID();
    await handleOrderCommand(app.runtime.deps.store, orderId, {
      type: 'PlaceOrder',
      data: {
        orderId,
        userId: user.id,
        items: [{ productId: randomUUID(), sku: 'SKU-1', name: 'Widget', quantity: 1, unitAmount: 500, lineAmount: 500 }],
        currency: 'EUR',
        paymentMethod: 'MANUAL',
        now: new Date().toISOString(),
      },
    });
  }
}

test('when orders are placed and read, then every metric family is there with its labels and sane values', async () => {
  const before = (await scrape()).samples;
  const socket = client(app.url, user.token);
  await connected(socket);
  try {
    const orders = [await givenOrder(app, user), await givenOrder(app, user), await givenOrder(app, user)];
    for (const order of orders) expect((await app.request.get(`/orders/${order.id}`).set(bearer(user.token))).status).toBe(200);
    expect((await app.request.get(`/no-such-route/${randomUUID()}`)).status).toBe(404);

    const samples = await scrapeUntil(
      (s) =>
        ['projector', 'notifier', 'refund-reactor'].every(
          (subscriber) => valueOf(s, 'order_ledger_subscriber_checkpoint_position', { subscriber }) === valueOf(s, 'order_ledger_eventstore_head_position', { store: 'postgres' }),
        ) &&
        (valueOf(s, 'order_ledger_eventstore_head_position', { store: 'postgres' }) ?? 0) > 0 &&
        (valueOf(s, 'order_ledger_emails_sent_total', { kind: 'order-placed' }) ?? 0) >= 3 &&
        valueOf(s, 'order_ledger_email_outbox_pending') === 0,
      'every subscriber and the email worker to catch up',
    );
    const { text } = await scrape();
    const types = families(text);

    // HTTP: route templates, never the ids in the URL.
    expect(types.get('order_ledger_http_request_duration_seconds')).toBe('histogram');
    const count = (s: readonly Sample[], labels: Record<string, string>): number => sum(samplesOf(s, 'order_ledger_http_request_duration_seconds_count', labels));
    expect(count(samples, { method: 'POST', route: '/orders', status: '201' }) - count(before, { method: 'POST', route: '/orders', status: '201' })).toBe(3);
    expect(count(samples, { method: 'GET', route: '/orders/:id', status: '200' })).toBe(3);
    expect(count(samples, { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
    const routes = new Set(samplesOf(samples, 'order_ledger_http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(samplesOf(samples, 'order_ledger_http_request_duration_seconds_bucket', { route: '/orders', le: '+Inf', status: '201' })[0]?.value).toBeGreaterThanOrEqual(3);

    // Event store appends by store kind and outcome.
    const ok = { store: 'postgres', outcome: 'ok' };
    expect(types.get('order_ledger_eventstore_appends_total')).toBe('counter');
    expect(valueOf(samples, 'order_ledger_eventstore_appends_total', ok)! - (valueOf(before, 'order_ledger_eventstore_appends_total', ok) ?? 0)).toBe(3);
    expect(valueOf(samples, 'order_ledger_eventstore_append_duration_seconds_count', ok)).toBe(valueOf(samples, 'order_ledger_eventstore_appends_total', ok));
    expect(valueOf(samples, 'order_ledger_eventstore_append_events_sum', ok)! - (valueOf(before, 'order_ledger_eventstore_append_events_sum', ok) ?? 0)).toBe(3);

    // Each subscriber of this process: checkpoint at the head, no lag.
    const head = valueOf(samples, 'order_ledger_eventstore_head_position', { store: 'postgres' })!;
    expect(head).toBeGreaterThan(0);
    for (const subscriber of ['projector', 'notifier', 'refund-reactor']) {
      expect({ subscriber, checkpoint: valueOf(samples, 'order_ledger_subscriber_checkpoint_position', { subscriber }) }).toEqual({ subscriber, checkpoint: head });
      expect({
        subscriber,
        events: valueOf(samples, 'order_ledger_subscriber_lag_events', { subscriber }),
        seconds: valueOf(samples, 'order_ledger_subscriber_lag_seconds', { subscriber }),
      }).toEqual({ subscriber, events: 0, seconds: 0 });
      expect({ subscriber, running: valueOf(samples, 'order_ledger_subscriber_running', { subscriber }) }).toEqual({ subscriber, running: 1 });
    }

    // The email queue and what the worker did.
    for (const state of ['waiting', 'active', 'delayed', 'failed']) expect(valueOf(samples, 'order_ledger_queue_jobs', { queue: 'emails', state })).toBe(0);
    expect(types.get('order_ledger_emails_failed_total')).toBe('counter');

    // Sockets, consistency waits (every POST /orders waited for the read model), process metrics.
    expect(valueOf(samples, 'order_ledger_sockets_connected')).toBe(1);
    const waits = (s: readonly Sample[]): number => sum(samplesOf(s, 'order_ledger_consistency_waits_total'));
    expect(waits(samples) - waits(before)).toBeGreaterThanOrEqual(3);
    expect(samplesOf(samples, 'order_ledger_consistency_waits_total').every((s) => ['immediate', 'reached'].includes(s.labels.outcome!))).toBe(true);
    expect(types.get('order_ledger_consistency_wait_duration_seconds')).toBe('histogram');
    expect(valueOf(samples, 'order_ledger_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'order_ledger_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(types.get('order_ledger_nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
    for (const collector of ['subscribers', 'queue', 'email-outbox', 'process'])
      expect({ collector, up: valueOf(samples, 'order_ledger_scrape_collector_up', { collector }) }).toEqual({ collector, up: 1 });
  } finally {
    socket.disconnect();
  }
  await scrapeUntil((s) => valueOf(s, 'order_ledger_sockets_connected') === 0, 'the socket count to drop');
});

test('when an append names a stale revision, then it is counted with outcome conflict', async () => {
  const conflict = { store: 'postgres', outcome: 'conflict' };
  const before = valueOf((await scrape()).samples, 'order_ledger_eventstore_appends_total', conflict) ?? 0;
  // Not an order stream: the subscribers pass over it.
  const streamId = `probe-${randomUUID()}`;
  await app.runtime.deps.store.appendToStream(streamId, [{ id: randomUUID(), type: 'Probe', data: {} }], { expectedRevision: 'no_stream' });
  await expect(app.runtime.deps.store.appendToStream(streamId, [{ id: randomUUID(), type: 'Probe', data: {} }], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(
    WrongExpectedVersionError,
  );
  const samples = (await scrape()).samples;
  expect(valueOf(samples, 'order_ledger_eventstore_appends_total', conflict)).toBe(before + 1);
  expect(valueOf(samples, 'order_ledger_eventstore_append_events_count', conflict)).toBe(before + 1);
});

test('when the projector is stopped while events arrive, then its lag in events and in seconds is above 0, and back to 0 once it runs again', async () => {
  const projector = app.runtime.deps.projector!;
  // Earlier tests' events must be projected first, or they count towards the lag too.
  await scrapeUntil((s) => valueOf(s, 'order_ledger_subscriber_lag_events', { subscriber: 'projector' }) === 0, 'the projector to be caught up');
  await projector.stop();
  try {
    await placeStraightIntoTheStore(3);
    const samples = await scrapeUntil((s) => (valueOf(s, 'order_ledger_subscriber_lag_events', { subscriber: 'projector' }) ?? 0) >= 3, 'the projector lag to show');
    expect(valueOf(samples, 'order_ledger_subscriber_lag_events', { subscriber: 'projector' })).toBe(3);
    expect(valueOf(samples, 'order_ledger_subscriber_lag_seconds', { subscriber: 'projector' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'order_ledger_subscriber_running', { subscriber: 'projector' })).toBe(0);
    expect(valueOf(samples, 'order_ledger_subscriber_checkpoint_position', { subscriber: 'projector' })).toBeLessThan(
      valueOf(samples, 'order_ledger_eventstore_head_position', { store: 'postgres' })!,
    );
    // The oldest pending event keeps ageing while nothing handles it.
    const first = valueOf(samples, 'order_ledger_subscriber_lag_seconds', { subscriber: 'projector' })!;
    await scrapeUntil((s) => valueOf(s, 'order_ledger_subscriber_lag_seconds', { subscriber: 'projector' })! > first, 'the lag in seconds to grow');
  } finally {
    projector.start();
  }
  const caughtUp = await scrapeUntil((s) => valueOf(s, 'order_ledger_subscriber_lag_events', { subscriber: 'projector' }) === 0, 'the projector to catch up');
  expect(valueOf(caughtUp, 'order_ledger_subscriber_lag_seconds', { subscriber: 'projector' })).toBe(0);
});

test('when the routes are hit with many distinct ids, then the route label stays one template per route', async () => {
  for (let i = 0; i < 5; i++) {
    await app.request.get(`/orders/${randomUUID()}`).set(bearer(user.token));
    await app.request.get(`/elsewhere/${randomUUID()}`);
  }
  const samples = (await scrape()).samples;
  const routes = samplesOf(samples, 'order_ledger_http_request_duration_seconds_count').map((s) => s.labels.route!);
  expect(routes.filter((r) => r.startsWith('/orders/')).every((r) => r.startsWith('/orders/:id'))).toBe(true);
  expect(samplesOf(samples, 'order_ledger_http_request_duration_seconds_count', { method: 'GET', route: '/orders/:id', status: '404' })).toHaveLength(1);
  expect(samplesOf(samples, 'order_ledger_http_request_duration_seconds_count', { method: 'GET', route: '(unmatched)', status: '404' })).toHaveLength(1);
  expect(routes.some((r) => r.includes('elsewhere'))).toBe(false);
});

test('when the rate limit is spent, then /metrics, /health and /ready still answer', async () => {
  const limited = await cluster.start({ ROLES: 'api', RATE_LIMIT_MAX: '2' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await limited.request.get('/orders')).status);
    expect(statuses[2]).toBe(429);
    for (let i = 0; i < 5; i++) {
      for (const path of ['/metrics', '/health', '/ready']) expect({ path, status: (await limited.request.get(path)).status }).toEqual({ path, status: 200 });
    }
  } finally {
    await limited.stop();
  }
});

test('when METRICS_TOKEN is set, then /metrics answers 401 without it or with another, and 200 with it', async () => {
  const guarded = await cluster.start({ ROLES: 'api', METRICS_TOKEN: TOKEN });
  try {
    const none = await guarded.request.get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(none.body).toEqual({ status: 'error', error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
    expect(none.text).not.toContain('order_ledger_');
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, `Basic ${TOKEN}`]) {
      expect({ header, status: (await guarded.request.get('/metrics').set('Authorization', header)).status }).toEqual({ header, status: 401 });
    }
    const { samples } = await scrape(guarded.url, TOKEN);
    expect(valueOf(samples, 'order_ledger_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    // An API-only process reports no subscriber: their lag comes from the processes that run them.
    expect(samplesOf(samples, 'order_ledger_subscriber_lag_events')).toHaveLength(0);
    expect(valueOf(samples, 'order_ledger_sockets_connected')).toBe(0);
  } finally {
    await guarded.stop();
  }
});

test('when a process runs only the worker role, then /health, /ready and /metrics answer on OPS_PORT', async () => {
  const worker = await cluster.start({ ROLES: 'worker', OPS_PORT: '0', METRICS_TOKEN: TOKEN });
  try {
    expect(worker.runtime.url).toBeUndefined();
    const ops = supertest(worker.runtime.opsUrl!);
    const health = await ops.get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
    const ready = await ops.get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      checks: { database: { ok: true }, redis: { ok: true }, eventStore: { ok: true, kind: 'postgres' } },
      projector: { role: 'elsewhere' },
    });
    expect((await ops.get('/metrics')).status).toBe(401);
    const { samples } = await scrape(worker.runtime.opsUrl, TOKEN);
    expect(valueOf(samples, 'order_ledger_queue_jobs', { queue: 'emails', state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, 'order_ledger_subscriber_lag_events', { subscriber: 'refund-reactor' })).toBeGreaterThanOrEqual(0);
    expect(samplesOf(samples, 'order_ledger_subscriber_lag_events', { subscriber: 'projector' })).toHaveLength(0);
    expect(samplesOf(samples, 'order_ledger_http_request_duration_seconds_count')).toHaveLength(0);
    expect((await ops.get('/elsewhere')).status).toBe(404);
    expect((await ops.post('/metrics')).status).toBe(405);
  } finally {
    await worker.stop();
  }
});

test('when OPS_PORT is unset in a process without the api role, then the probes listen on PORT', async () => {
  const notifier = await cluster.start({ ROLES: 'notifier' });
  try {
    expect(notifier.runtime.url).toBeUndefined();
    const ops = supertest(notifier.runtime.opsUrl!);
    expect((await ops.get('/health')).status).toBe(200);
    const { samples } = await scrape(notifier.runtime.opsUrl);
    expect(samplesOf(samples, 'order_ledger_subscriber_checkpoint_position', { subscriber: 'notifier' })).toHaveLength(1);
  } finally {
    await notifier.stop();
  }
});

test('when the API sets OPS_PORT, then /metrics moves off the public port and the probes answer on both', async () => {
  const api = await cluster.start({ ROLES: 'api', OPS_PORT: '0' });
  try {
    expect((await api.request.get('/metrics')).status).toBe(404);
    await scrape(api.runtime.opsUrl);
    for (const base of [api.url, api.runtime.opsUrl!]) expect({ base, status: (await supertest(base).get('/health')).status }).toEqual({ base, status: 200 });
  } finally {
    await api.stop();
  }
});

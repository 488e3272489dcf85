import http from 'node:http';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, OrderUpdatePayload, ServerToClientEvents } from '../src/infra/socket/socketEvents';
import { cpuProfArgs } from './httpApi';
import { bearer, createAppFixture } from './lib/appFixture';
import { percentile, type Figure } from './lib/report';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Sample {
  sentAt: number;
  /** POST answered 201: the command was accepted and (POST waits for it) the read model shows the order. */
  respondedAt?: number;
  /** orderUpdate for this order reached the socket.io client. */
  pushedAt?: number;
  status?: number;
}

async function connectClient(url: string, token: string): Promise<Client> {
  const socket: Client = connect(url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false, timeout: 5000, autoConnect: false });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket.io client did not connect within 5 s')), 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.connect();
  });
  return socket;
}

function post(agent: http.Agent, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function stats(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 };
}

const round = (n: number): number => Number(n.toFixed(1));

/**
 * Figure 5: an open-loop, steady stream of POST /orders (MANUAL) at `rate` per second for
 * `seconds`, while a socket.io-client connected with the user's JWT listens for orderUpdate.
 * Per order: the POST's answer (command accepted; POST waits until the read model shows the order)
 * and the socket push, both measured from when the request was sent. Target: p99 of the push
 * within 5 × p99 of the command.
 */
export async function benchEndToEnd(quick: boolean): Promise<Figure[]> {
  const rate = quick ? 50 : 200;
  const seconds = quick ? 5 : 30;
  const fixture = await createAppFixture('e2e');
  let socket: Client | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  try {
    const user = await fixture.user('buyer');
    const app = await fixture.startApp({ nodeArgs: cpuProfArgs('e2e') });
    socket = await connectClient(app.url, user.token);
    const samples = new Map<string, Sample>();
    const early = new Map<string, number>();
    socket.on('orderUpdate', (payload: OrderUpdatePayload) => {
      if (payload.previousStatus !== null) return;
      const now = performance.now();
      const sample = samples.get(payload.orderId);
      if (sample) sample.pushedAt ??= now;
      else early.set(payload.orderId, now); // the push came before the POST's answer
    });
    const url = new URL('/orders', app.url);
    const headers = bearer(user);
    const body = JSON.stringify({ items: [{ productId: fixture.productId, quantity: 1 }], paymentMethod: 'MANUAL' });

    const failures: Sample[] = [];
    const fire = async (record: boolean): Promise<void> => {
      const sample: Sample = { sentAt: performance.now() };
      try {
        const res = await post(agent, url, headers, body);
        sample.respondedAt = performance.now();
        sample.status = res.status;
        if (!record || res.status !== 201) {
          if (record) failures.push(sample);
          return;
        }
        const orderId = (JSON.parse(res.body) as { data: { order: { id: string } } }).data.order.id;
        samples.set(orderId, sample);
        const pushed = early.get(orderId);
        if (pushed !== undefined) sample.pushedAt = pushed;
      } catch {
        if (record) failures.push(sample);
      }
    };
    /** Sends `count` requests on a fixed schedule (open loop: a slow answer does not delay the next send). */
    const paced = async (count: number, record: boolean): Promise<number> => {
      const started = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const due = started + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        inflight.push(fire(record));
      }
      const sendSeconds = (performance.now() - started) / 1000;
      await Promise.all(inflight);
      return count / sendSeconds;
    };
    // Warm-up at the same rate for a second (JIT, pools), not measured.
    await paced(rate, false);
    const total = rate * seconds;
    const achievedRate = await paced(total, true);
    // Bounded wait for the last pushes.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && [...samples.values()].some((s) => s.pushedAt === undefined)) await new Promise((r) => setTimeout(r, 50));

    const answered = [...samples.values()];
    const command = stats(answered.map((s) => s.respondedAt! - s.sentAt));
    const pushedSamples = answered.filter((s) => s.pushedAt !== undefined);
    const push = stats(pushedSamples.map((s) => s.pushedAt! - s.sentAt));
    const pushAfterAnswer = stats(pushedSamples.map((s) => s.pushedAt! - s.respondedAt!));
    const missing = answered.length - pushedSamples.length;
    const context = {
      rate,
      seconds,
      achievedRate: round(achievedRate),
      orders: answered.length,
      failedRequests: failures.length,
      missingPushes: missing,
    };
    process.stderr.write(
      `[bench]   ${answered.length} orders at ${round(achievedRate)}/s: command p50/p99/max ${round(command.p50)}/${round(command.p99)}/${round(command.max)} ms, push ${round(push.p50)}/${round(push.p99)}/${round(push.max)} ms, ${failures.length} failed, ${missing} pushes missing\n`,
    );
    const ratio = push.p99 / command.p99;
    return [
      {
        name: `5 e2e socket push p99 (${rate}/s for ${seconds} s)`,
        unit: 'ms',
        ours: push.p99,
        reference: { label: 'command (POST) p99', value: command.p99 },
        target: '≤5.0×command p99',
        met: ratio <= 5 && missing === 0 && failures.length === 0,
        extra: {
          ...context,
          pushP50Ms: round(push.p50),
          pushMaxMs: round(push.max),
          pushAfterAnswerP50Ms: round(pushAfterAnswer.p50),
          pushAfterAnswerP99Ms: round(pushAfterAnswer.p99),
        },
      },
      { name: '5 e2e command accepted + read model (POST answer) p50', unit: 'ms', ours: command.p50, target: 'context' },
      { name: '5 e2e command accepted + read model (POST answer) p99', unit: 'ms', ours: command.p99, target: 'context' },
      { name: '5 e2e command accepted + read model (POST answer) max', unit: 'ms', ours: command.max, target: 'context' },
      { name: '5 e2e socket orderUpdate received p50', unit: 'ms', ours: push.p50, target: 'context' },
      { name: '5 e2e socket orderUpdate received max', unit: 'ms', ours: push.max, target: 'context' },
    ];
  } finally {
    socket?.disconnect();
    agent.destroy();
    await fixture.close();
  }
}

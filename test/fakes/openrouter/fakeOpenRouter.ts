import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One message as our client sends it (OpenAI chat-completions shape). */
export interface RecordedMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_call_id?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: {
    model: string;
    messages: RecordedMessage[];
    tools?: { type: string; function: { name: string; description: string; parameters: unknown } }[];
    tool_choice?: unknown;
    [key: string]: unknown;
  };
}

/** What the fake answers to one request. */
export type FakeReply =
  | { kind: 'text'; content: string }
  | { kind: 'tool_call'; name: string; arguments: string; id?: string }
  | { kind: 'status'; status: number; body?: unknown; retryAfterSeconds?: number }
  | { kind: 'raw'; status: number; body: string }
  /** Holds the request open without answering until the client gives up (or `ms` passes). */
  | { kind: 'stall'; ms?: number };

export type Responder = (request: RecordedRequest, index: number) => FakeReply;

export interface FakeOpenRouter {
  /** Base URL to put in OPEN_ROUTER_BASE_URL (`…/api/v1`). */
  baseUrl: string;
  apiKey: string;
  requests: RecordedRequest[];
  /** Answers every following request with the responder; scripted replies run first. */
  respondWith(responder: Responder): void;
  /** Replies used once each, in order, before the responder. */
  script(...replies: FakeReply[]): void;
  reset(): void;
  close(): Promise<void>;
}

export const text = (content: string): FakeReply => ({ kind: 'text', content });
export const toolCall = (name: string, args: Record<string, unknown> | string, id?: string): FakeReply => ({
  kind: 'tool_call',
  name,
  arguments: typeof args === 'string' ? args : JSON.stringify(args),
  ...(id ? { id } : {}),
});
export const failWith = (status: number, retryAfterSeconds?: number): FakeReply => ({
  kind: 'status',
  status,
  body: { error: { code: status, message: `fake provider error ${status}` } },
  ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
});
export const stall = (ms?: number): FakeReply => ({ kind: 'stall', ...(ms !== undefined ? { ms } : {}) });

const MAX_STALL_MS = 15_000;
let completionSeq = 0;

function completion(model: string, message: Record<string, unknown>, finishReason: string): unknown {
  completionSeq++;
  return {
    id: `gen-fake-${completionSeq}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    provider: 'FakeOpenRouter',
    choices: [{ index: 0, finish_reason: finishReason, native_finish_reason: finishReason, message: { role: 'assistant', ...message } }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

/**
 * A real HTTP server on 127.0.0.1 speaking OpenRouter's chat-completions endpoint
 * (POST /api/v1/chat/completions). Records every request; replies are scripted per test.
 */
export async function startFakeOpenRouter(apiKey = 'sk-or-fake-key'): Promise<FakeOpenRouter> {
  const requests: RecordedRequest[] = [];
  let queue: FakeReply[] = [];
  let responder: Responder = () => text('Hello from the fake model.');
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(payload);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/api/v1/chat/completions') {
        send(res, 404, { error: { code: 404, message: 'not found' } });
        return;
      }
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        send(res, 401, { error: { code: 401, message: 'No auth credentials found' } });
        return;
      }
      let body: RecordedRequest['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'];
      } catch {
        send(res, 400, { error: { code: 400, message: 'invalid JSON' } });
        return;
      }
      const recorded: RecordedRequest = { method: req.method, path: req.url, authorization: req.headers.authorization, body };
      requests.push(recorded);
      const reply = queue.shift() ?? responder(recorded, requests.length - 1);
      switch (reply.kind) {
        case 'text':
          send(res, 200, completion(body.model, { content: reply.content }, 'stop'));
          return;
        case 'tool_call':
          send(
            res,
            200,
            completion(
              body.model,
              {
                content: null,
                tool_calls: [{ id: reply.id ?? `call_${requests.length}`, type: 'function', function: { name: reply.name, arguments: reply.arguments } }],
              },
              'tool_calls',
            ),
          );
          return;
        case 'status':
          send(res, reply.status, reply.body ?? {}, reply.retryAfterSeconds !== undefined ? { 'Retry-After': String(reply.retryAfterSeconds) } : {});
          return;
        case 'raw':
          send(res, reply.status, reply.body);
          return;
        case 'stall': {
          const timer = setTimeout(
            () => {
              timers.delete(timer);
              send(res, 200, completion(body.model, { content: 'too late' }, 'stop'));
            },
            Math.min(reply.ms ?? MAX_STALL_MS, MAX_STALL_MS),
          );
          timers.add(timer);
          res.on('close', () => {
            clearTimeout(timer);
            timers.delete(timer);
          });
          return;
        }
        default: {
          const never: never = reply;
          throw new Error(`unknown reply ${JSON.stringify(never)}`);
        }
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/api/v1`,
    apiKey,
    requests,
    respondWith(next) {
      responder = next;
    },
    script(...replies) {
      queue.push(...replies);
    },
    reset() {
      requests.length = 0;
      queue = [];
      responder = () => text('Hello from the fake model.');
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { UnavailableError } from '../../errors';
import type { Logger } from '../logger';

/** The model could not be reached or gave no usable answer; the HTTP layer answers 503. */
export class ChatbotUnavailableError extends UnavailableError {
  constructor(message = 'The support assistant is unavailable right now; please try again later') {
    super('CHATBOT_UNAVAILABLE', message);
  }
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** OpenAI chat-completions message shapes (the subset we send and read). */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface CompletionRequest {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  /** 'none' forces a text answer while still declaring the tools the conversation used. */
  toolChoice?: 'auto' | 'none';
  /** Absolute deadline (epoch ms) shared by every attempt and round of one answer. */
  deadline: number;
  /** Aborted when the caller goes away (client disconnected). */
  signal?: AbortSignal;
}

export interface AssistantMessage {
  content: string | null;
  toolCalls: ToolCall[];
}

export interface ChatClient {
  readonly model: string;
  complete(request: CompletionRequest): Promise<AssistantMessage>;
}

export interface OpenRouterOptions {
  apiKey: string;
  baseUrl: string;
  model: string;
  /** Per-attempt timeout; an attempt never outlives the request's deadline either. */
  timeoutMs: number;
  maxRetries: number;
  logger: Logger;
  backoffMs?: number;
  maxTokens?: number;
}

const toolCallSchema = z.object({
  id: z.string(),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string(), arguments: z.string().default('{}') }),
});

const completionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.string().nullable().optional(),
          tool_calls: z.array(toolCallSchema).nullable().optional(),
        }),
      }),
    )
    .min(1),
});

// OpenRouter may answer 200 with an error object when the upstream provider fails.
const errorBodySchema = z.object({ error: z.object({ code: z.union([z.number(), z.string()]).optional(), message: z.string().optional() }) });

const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_RETRY_AFTER_MS = 2000;

class AttemptError extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}

async function readBounded(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    // Node's fetch types body chunks as `any`; they are bytes, and anything else is refused.
    const value: unknown = next.value;
    if (!(value instanceof Uint8Array)) throw new AttemptError('unexpected response body', false);
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new AttemptError('response too large', false);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
}

const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/**
 * OpenRouter's OpenAI-compatible chat completions over fetch. Each attempt has its own timeout;
 * 429, 5xx, timeouts and network errors are retried a bounded number of times with a short backoff.
 * Logs carry statuses and sizes only, never message text.
 */
export function createOpenRouterClient(options: OpenRouterOptions): ChatClient {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const backoffMs = options.backoffMs ?? 250;

  async function attempt(request: CompletionRequest, timeoutMs: number): Promise<AssistantMessage> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
    const body = {
      model: options.model,
      messages: request.messages,
      ...(request.tools && request.tools.length > 0 ? { tools: request.tools, tool_choice: request.toolChoice ?? 'auto' } : {}),
      temperature: 0.2,
      max_tokens: options.maxTokens ?? 500,
    };
    let text: string;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${options.apiKey}`,
          'Content-Type': 'application/json',
          'X-Title': 'order-ledger support',
        },
        body: JSON.stringify(body),
        signal,
        redirect: 'error',
      });
      text = await readBounded(response);
    } catch (error) {
      if (error instanceof AttemptError) throw error;
      if (request.signal?.aborted) throw new AttemptError('caller went away', false);
      if (timeout.aborted) throw new AttemptError(`timed out after ${timeoutMs} ms`, true);
      throw new AttemptError(`network error: ${(error as Error).message}`, true);
    }
    if (!response.ok) {
      throw new AttemptError(`HTTP ${response.status}`, retryableStatus(response.status), retryAfterMs(response.headers.get('retry-after')));
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AttemptError('response is not JSON', true);
    }
    const providerError = errorBodySchema.safeParse(json);
    if (providerError.success) {
      const code = Number(providerError.data.error.code);
      throw new AttemptError(`provider error ${providerError.data.error.code ?? ''}`.trim(), Number.isNaN(code) || retryableStatus(code));
    }
    const parsed = completionSchema.safeParse(json);
    if (!parsed.success) throw new AttemptError('response is not a chat completion', false);
    const message = parsed.data.choices[0]!.message;
    return { content: message.content ?? null, toolCalls: message.tool_calls ?? [] };
  }

  return {
    model: options.model,
    async complete(request) {
      for (let attemptNo = 0; ; attemptNo++) {
        const remaining = request.deadline - Date.now();
        if (remaining < 50) throw new ChatbotUnavailableError('The support assistant took too long to answer; please try again later');
        const started = Date.now();
        try {
          return await attempt(request, Math.min(options.timeoutMs, remaining));
        } catch (error) {
          const failure = error instanceof AttemptError ? error : new AttemptError((error as Error).message, false);
          options.logger.warn(
            { provider: 'openrouter', model: options.model, attempt: attemptNo + 1, reason: failure.reason, durationMs: Date.now() - started },
            'chatbot provider call failed',
          );
          if (!failure.retryable || attemptNo >= options.maxRetries) {
            throw new ChatbotUnavailableError(failure.reason.startsWith('timed out') ? 'The support assistant took too long to answer; please try again later' : undefined);
          }
          const wait = failure.retryAfterMs ?? backoffMs * 2 ** attemptNo;
          if (Date.now() + wait >= request.deadline) throw new ChatbotUnavailableError('The support assistant took too long to answer; please try again later');
          await sleep(wait, undefined, request.signal ? { signal: request.signal } : undefined).catch(() => undefined);
          if (request.signal?.aborted) throw new ChatbotUnavailableError();
        }
      }
    },
  };
}

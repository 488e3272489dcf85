import '../openapi';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { z } from 'zod';
import { ValidationError } from '../../../errors';
import { createOpenRouterClient } from '../../chatbot/openRouterClient';
import { createSupportChatbot } from '../../../queries/chatbot/supportChatbot';
import type { Deps } from '../../deps';
import { bearerToken } from '../authTokens';
import { createLimiter } from '../rateLimit';
import { defineRoute, type RouteDeps } from '../route';

const chatbotResponseSchema = z.object({ reply: z.string().describe("The assistant's answer (plain text)") }).openapi('ChatbotResponse');

/** CHATBOT_RATE_LIMIT_MAX questions per window per signed-in user, or per client IP when anonymous. */
function chatbotRateLimit(deps: Deps): RequestHandler {
  return createLimiter(deps, {
    name: 'chatbot',
    limit: deps.config.CHATBOT_RATE_LIMIT_MAX,
    code: 'CHATBOT_RATE_LIMITED',
    message: 'Too many questions to the support assistant; retry later',
    keyGenerator: (req: Request) => {
      const token = bearerToken(req.headers.authorization);
      if (token) {
        try {
          return `user:${deps.tokens.verify(token).id}`;
        } catch {
          // An invalid token counts against the address; the route then answers 401.
        }
      }
      return `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
  });
}

/** Unicode code points, so an emoji counts as one character. */
const characterCount = (text: string): number => [...text].length;

export function registerChatbotRoutes(routes: RouteDeps, deps: Deps): void {
  const { config, logger } = deps;
  const maxChars = config.CHATBOT_MAX_MESSAGE_CHARS;
  const client = config.OPEN_ROUTER_KEY
    ? createOpenRouterClient({
        apiKey: config.OPEN_ROUTER_KEY,
        baseUrl: config.OPEN_ROUTER_BASE_URL,
        model: config.OPEN_ROUTER_MODEL,
        timeoutMs: config.HTTP_CLIENT_TIMEOUT_MS,
        maxRetries: config.CHATBOT_MAX_RETRIES,
        logger: logger.child({ component: 'chatbot' }),
      })
    : undefined;
  const chatbot = createSupportChatbot({ knex: deps.knex, dataKeys: deps.dataKeys, client, timeoutMs: config.CHATBOT_TIMEOUT_MS });

  const bodySchema = z
    .object({
      message: z
        .string()
        .trim()
        .min(1, 'message must not be empty')
        .openapi({ description: `The question, at most ${maxChars} characters`, maxLength: maxChars, example: 'Where is my order?' }),
    })
    .strict()
    .openapi('ChatbotRequest');

  defineRoute(routes, {
    method: 'post',
    path: '/chatbot',
    summary: "Ask the support assistant; with a bearer token it answers about the caller's own orders",
    tags: ['Support'],
    access: 'optional',
    body: bodySchema,
    before: [chatbotRateLimit(deps)],
    example: { body: { message: 'Where is my order?' } },
    responses: {
      200: { description: 'The answer', schema: chatbotResponseSchema },
      400: {
        description: `Empty message or longer than ${maxChars} characters (CHATBOT_MESSAGE_TOO_LONG)`,
        code: 'CHATBOT_MESSAGE_TOO_LONG',
        message: `message is too long: at most ${maxChars} characters, got ${maxChars + 1}`,
        request: { body: { message: 'a'.repeat(maxChars + 1) } },
      },
      429: {
        description: 'Too many questions from this user (or address when anonymous)',
        code: 'CHATBOT_RATE_LIMITED',
        message: 'Too many questions to the support assistant; retry later',
      },
      503: { description: 'The AI provider failed or timed out (CHATBOT_UNAVAILABLE)', code: 'CHATBOT_UNAVAILABLE' },
    },
    handler: async ({ body, user, res, requestId }) => {
      const chars = characterCount(body.message);
      if (chars > maxChars) {
        throw new ValidationError(`message is too long: at most ${maxChars} characters, got ${chars}`, { maxChars, chars }, 'CHATBOT_MESSAGE_TOO_LONG');
      }
      // Stop paying for an answer nobody will read.
      const gone = new AbortController();
      const onClose = (): void => {
        if (!res.writableFinished) gone.abort();
      };
      res.once('close', onClose);
      const started = Date.now();
      try {
        const answer = await chatbot.answer({ message: body.message, user, signal: gone.signal });
        // Lengths and counts only: questions and answers may hold personal data.
        logger.info(
          {
            reqId: requestId,
            userId: user?.id ?? null,
            mode: answer.mode,
            messageChars: chars,
            replyChars: characterCount(answer.reply),
            modelCalls: answer.modelCalls,
            toolCalls: answer.toolCalls,
            durationMs: Date.now() - started,
          },
          'chatbot answered',
        );
        return { status: 200, body: { reply: answer.reply } };
      } catch (error) {
        logger.warn({ reqId: requestId, userId: user?.id ?? null, messageChars: chars, durationMs: Date.now() - started }, 'chatbot failed');
        throw error;
      } finally {
        res.off('close', onClose);
      }
    },
  });
}

import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

export const errorResponseSchema = z
  .object({
    status: z.literal('error'),
    error: z.object({
      code: z.string().openapi({ example: 'ORDER_INVALID_TRANSITION' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

export function createRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  registry.register('Error', errorResponseSchema);
  return registry;
}

export function generateOpenApiDocument(registry: OpenAPIRegistry): ReturnType<OpenApiGeneratorV3['generateDocument']> {
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'order-ledger API',
      version: '0.1.0',
      description:
        'Event-sourced orders and payments. Commands return the global `position` of their last event; pass it as `X-Min-Position` (or `minPosition`) to a query to read your own writes.',
    },
    servers: [{ url: '/' }],
  });
}

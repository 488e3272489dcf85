import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { EXAMPLES_EXTENSION, type OperationExamples } from './examples';

extendZodWithOpenApi(z);

export const errorResponseSchema = z
  .object({
    status: z.literal('error'),
    error: z.object({
      // Each operation shows, per status, a code that operation answers with (its error examples).
      code: z.string(),
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

type OpenApiDocument = ReturnType<OpenApiGeneratorV3['generateDocument']>;

/** Swagger UI fills a parameter's field from its `example`: the route's request example supplies them. */
function withParameterExamples(doc: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(item as Record<string, unknown>)) {
      const op = operation as { parameters?: Array<{ in?: string; name?: string; example?: unknown }> } & Record<string, unknown>;
      const examples = op[EXAMPLES_EXTENSION] as OperationExamples | undefined;
      if (!examples || !op.parameters) continue;
      const byLocation: Record<string, Record<string, string> | undefined> = {
        path: examples.request.params,
        query: examples.request.query,
        header: examples.request.headers,
      };
      for (const parameter of op.parameters) {
        const value = parameter.in && parameter.name ? byLocation[parameter.in]?.[parameter.name] : undefined;
        if (value !== undefined) parameter.example = value;
      }
    }
  }
  return doc;
}

export function generateOpenApiDocument(registry: OpenAPIRegistry): OpenApiDocument {
  return withParameterExamples(
    new OpenApiGeneratorV3(registry.definitions).generateDocument({
      openapi: '3.0.3',
      info: {
        title: 'order-ledger API',
        version: '0.1.0',
        description:
          'Event-sourced orders and payments. Commands return the global `position` of their last event; pass it as `X-Min-Position` (or `minPosition`) to a query to read your own writes.',
      },
      servers: [{ url: '/' }],
    }),
  );
}

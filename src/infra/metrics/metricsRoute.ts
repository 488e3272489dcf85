import { z } from 'zod';
import { errorResponseSchema } from '../http/openapi';
import { EXAMPLES_EXTENSION, errorExampleBody } from '../http/examples';
import { operationExamples, type RouteDeps } from '../http/route';
import type { Logger } from '../logger';
import type { Metrics } from './metrics';
import { metricsHandler } from './metricsEndpoint';

/**
 * GET /metrics on the API's own port, for an API process without OPS_PORT. Plain text, so it is
 * registered next to the JSON routes rather than through defineRoute; it is exempt from the rate
 * limit like the probes.
 */
export function registerMetricsRoute(routes: RouteDeps, metrics: Metrics, token: string | undefined, logger: Logger): void {
  const unauthorized = { code: 'UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' };
  routes.registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this process (text exposition format)',
    tags: ['Operations'],
    ...(token === undefined ? {} : { security: [{ bearerAuth: [] }] }),
    // The token is the operator's METRICS_TOKEN, not a user's: the example sends none (the default deployment has none).
    [EXAMPLES_EXTENSION]: operationExamples(
      'public',
      {},
      {
        401: { description: 'METRICS_TOKEN is set and the request does not carry it', ...unauthorized },
        500: { description: 'The metrics could not be rendered', code: 'INTERNAL', message: 'Internal server error' },
      },
    ),
    responses: {
      200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } },
      401: {
        description: 'METRICS_TOKEN is set and the request does not carry it',
        content: { 'application/json': { schema: errorResponseSchema, example: errorExampleBody(unauthorized) } },
      },
      500: {
        description: 'The metrics could not be rendered',
        content: { 'application/json': { schema: errorResponseSchema, example: errorExampleBody({ code: 'INTERNAL', message: 'Internal server error' }) } },
      },
    },
  });
  const handler = metricsHandler(metrics, token, logger);
  routes.router.get('/metrics', (req, res) => handler(req, res));
}

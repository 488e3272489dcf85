import SwaggerParser from '@apidevtools/swagger-parser';
import type { Express } from 'express';
import type { OpenAPIV3 } from 'openapi-types';
import { buildApiDocument } from '../../src/infra/http/apiDocument';
import { startTestApp, type TestApp } from '../support/apiHarness';

let app: TestApp;
let doc: OpenAPIV3.Document;

beforeAll(async () => {
  app = await startTestApp();
  doc = (await app.request.get('/api-docs.json')).body as OpenAPIV3.Document;
});
afterAll(async () => {
  await app.stop();
});

/** The document describes the API; it is not itself an API operation. */
const UNDOCUMENTED = new Set(['GET /api-docs.json']);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method and path the running Express app routes, read from its router stack. */
function servedRoutes(expressApp: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m])) {
          for (const p of paths) found.push(`${method.toUpperCase()} ${p}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((expressApp as unknown as { router: { stack: Layer[] } }).router.stack);
  return found;
}

function documentedRoutes(document: OpenAPIV3.Document): string[] {
  return Object.entries(document.paths).flatMap(([p, item]) => METHODS.filter((m) => item?.[m]).map((m) => `${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`));
}

describe('OpenAPI document', () => {
  it('when /api-docs.json is fetched, then it validates as an OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    // validate() dereferences in place; give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it('when the routes the Express app serves are listed, then every one is documented and nothing documented is missing', () => {
    const served = servedRoutes(app.runtime.app!).filter((r) => !UNDOCUMENTED.has(r));
    const documented = documentedRoutes(doc);

    expect(served.length).toBeGreaterThanOrEqual(16);
    expect([...served].sort()).toEqual([...documented].sort());
    expect(served).toEqual(expect.arrayContaining(['POST /auth/register', 'POST /auth/login', 'GET /products', 'PATCH /products/:id', 'POST /orders', 'PATCH /orders/:id/status']));
  });

  it('when the document is built without a server (npm run docs:generate), then it equals the one the running API serves', () => {
    // The test app differs from the defaults only in settings the document does not mention.
    expect(buildApiDocument()).toEqual(doc);
  });

  it('when an operation names who may call it (x-access), then its security agrees', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const operation: (OpenAPIV3.OperationObject & { 'x-access'?: string }) | undefined = item?.[m];
        if (!operation?.['x-access']) continue;
        const expected = { public: undefined, optional: [{ bearerAuth: [] }, {}], user: [{ bearerAuth: [] }], admin: [{ bearerAuth: [] }] }[operation['x-access']];
        expect({ operation: `${m} ${p}`, security: operation.security }).toEqual({ operation: `${m} ${p}`, security: expected });
      }
    }
    expect(doc.paths['/products']!.post!).toMatchObject({ 'x-access': 'admin' });
  });

  it('when an operation needs a token, then it declares bearer security and the scheme is a JWT bearer', () => {
    expect(doc.components?.securitySchemes?.bearerAuth).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    const op = (p: string, m: (typeof METHODS)[number]) => doc.paths[p]![m]!;
    expect(op('/orders', 'post').security).toEqual([{ bearerAuth: [] }]);
    expect(op('/products', 'post').security).toEqual([{ bearerAuth: [] }]);
    expect(op('/auth/login', 'post').security).toBeUndefined();
    expect(op('/health', 'get').security).toBeUndefined();
    // Optional auth: anonymous or bearer.
    expect(op('/auth/register', 'post').security).toEqual([{ bearerAuth: [] }, {}]);
  });

  it('when any operation can fail, then its 4xx and 5xx answers are documented with the error envelope', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const m of METHODS) {
        const operation = item?.[m];
        if (!operation) continue;
        const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
        expect(errors.length).toBeGreaterThan(0);
        for (const [status, response] of errors) {
          if (`${m} ${p} ${status}` === 'get /ready 503') continue; // readiness reports its checks on failure too
          const schema = (response as OpenAPIV3.ResponseObject).content?.['application/json']?.schema;
          expect({ operation: `${m} ${p} ${status}`, schema }).toEqual({ operation: `${m} ${p} ${status}`, schema: { $ref: '#/components/schemas/Error' } });
        }
      }
    }
  });

  it('when request bodies are documented, then command bodies forbid unknown fields', () => {
    const bodySchema = (p: string, m: 'post' | 'patch'): OpenAPIV3.SchemaObject => {
      const body = doc.paths[p]![m]!.requestBody as OpenAPIV3.RequestBodyObject;
      const schema = body.content['application/json']!.schema!;
      if ('$ref' in schema) return doc.components!.schemas![schema.$ref.split('/').pop()!] as OpenAPIV3.SchemaObject;
      return schema;
    };
    for (const [p, m] of [
      ['/auth/register', 'post'],
      ['/orders', 'post'],
      ['/products', 'post'],
      ['/products/{id}', 'patch'],
      ['/orders/{id}/status', 'patch'],
      ['/orders/{id}/cancel', 'post'],
      ['/orders/{id}/mark-paid', 'post'],
    ] as const) {
      expect({ route: `${m} ${p}`, additionalProperties: bodySchema(p, m).additionalProperties }).toEqual({ route: `${m} ${p}`, additionalProperties: false });
    }
  });

  it('when /api-docs is opened, then Swagger UI is served', async () => {
    const res = await app.request.get('/api-docs/').redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
  });
});

import type { OpenAPIV3 } from 'openapi-types';
import { buildApiDocument } from '../../src/infra/http/apiDocument';
import { EXAMPLES_EXTENSION, examplePlaceholders, type OperationExamples } from '../../src/infra/http/examples';
import { operationsOf, resolve, type Document, type Operation } from '../../scripts/docs/openApi';

const doc = buildApiDocument() as unknown as Document;
const name = (op: Operation): string => `${op.method.toUpperCase()} ${op.path}`;
const examplesOf = (op: Operation): OperationExamples | undefined => (op.operation as Record<string, unknown>)[EXAMPLES_EXTENSION] as OperationExamples | undefined;

/** Error statuses answered with the error envelope (GET /ready's 503 is a readiness report, not an error). */
function errorStatuses(op: Operation): string[] {
  return Object.keys(op.operation.responses).filter((status) => {
    if (Number(status) < 400) return false;
    const schema = resolve<OpenAPIV3.ResponseObject>(doc, op.operation.responses[status]!).content?.['application/json']?.schema;
    return (schema as OpenAPIV3.ReferenceObject | undefined)?.$ref === '#/components/schemas/Error';
  });
}

describe('request examples of the OpenAPI document', () => {
  it('when every operation is read, then none lacks a request example (routes register one with `example`)', () => {
    const without = operationsOf(doc).filter((op) => !examplesOf(op)?.request).map(name);
    expect(without).toEqual([]);
    expect(operationsOf(doc).length).toBeGreaterThanOrEqual(25);
  });

  it('when every documented error status is read, then each has an example code, shown in the document and in x-examples alike', () => {
    const missing: string[] = [];
    for (const op of operationsOf(doc)) {
      for (const status of errorStatuses(op)) {
        const response = resolve<OpenAPIV3.ResponseObject>(doc, op.operation.responses[status]!);
        const shown = (response.content?.['application/json']?.example as { error?: { code?: string } } | undefined)?.error?.code;
        const listed = examplesOf(op)?.errors[status]?.code;
        if (!shown || shown !== listed) missing.push(`${name(op)} ${status}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('when the error codes are collected, then no operation shows one code for every error (the old ORDER_INVALID_TRANSITION everywhere)', () => {
    const byOperation = operationsOf(doc).map((op) => ({ op: name(op), codes: new Set(Object.values(examplesOf(op)?.errors ?? {}).map((e) => e.code)) }));
    const notFound = byOperation.filter(({ op }) => /\{id\}/.test(op) && !op.includes('revoke-tokens'));
    expect(notFound.filter(({ codes }) => codes.has('ORDER_INVALID_TRANSITION') && codes.size === 1)).toEqual([]);
    expect(byOperation.find((o) => o.op === 'GET /products/{id}')!.codes).toEqual(new Set(['VALIDATION_FAILED', 'INVALID_TOKEN', 'INTERNAL', 'PRODUCT_NOT_FOUND', 'CONSISTENCY_TIMEOUT']));
  });

  it('when the examples are read, then every path parameter has a value and every placeholder is one examples.ts describes', () => {
    const problems: string[] = [];
    for (const op of operationsOf(doc)) {
      const examples = examplesOf(op);
      if (!examples) continue;
      const requests = [examples.request, ...Object.values(examples.errors).flatMap((e) => (e.request ? [e.request] : []))];
      for (const request of requests) {
        for (const [, param] of op.path.matchAll(/\{(\w+)\}/g)) if (request.params?.[param!] === undefined) problems.push(`${name(op)}: no ${param}`);
        for (const [, used] of JSON.stringify(request).matchAll(/\{\{(\w+)\}\}/g)) if (!(used! in examplePlaceholders)) problems.push(`${name(op)}: {{${used}}}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('when a parameter has a value in the request example, then Swagger UI shows it as the parameter example', () => {
    const order = operationsOf(doc).find((op) => name(op) === 'GET /orders/{id}')!;
    const id = (order.operation.parameters ?? []).map((p) => resolve<OpenAPIV3.ParameterObject>(doc, p)).find((p) => p.in === 'path' && p.name === 'id');
    expect(id?.example).toBe('{{orderId}}');
    const place = operationsOf(doc).find((op) => name(op) === 'POST /orders')!;
    const body = resolve<OpenAPIV3.RequestBodyObject>(doc, place.operation.requestBody!);
    expect(body.content['application/json']!.example).toMatchObject({ items: [{ productId: '{{productId}}', quantity: 2 }], paymentMethod: 'MANUAL', shippingAddress: { country: 'GB' } });
  });
});

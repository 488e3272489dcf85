import type { OpenAPIV3 } from 'openapi-types';

export type Document = OpenAPIV3.Document;
export type Schema = OpenAPIV3.SchemaObject;

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type Method = (typeof METHODS)[number];

export type Access = 'public' | 'optional' | 'user' | 'admin';

export interface Operation {
  method: Method;
  /** OpenAPI form: `/orders/{id}`. */
  path: string;
  operation: OpenAPIV3.OperationObject & { 'x-access'?: Access };
}

/** Every operation, in the document's order (the order the app registers its routes). */
export function operationsOf(doc: Document): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item?.[method]).map((method) => ({ method, path, operation: item![method]! })),
  );
}

/**
 * Who may call it. Routes say so in `x-access`; an operation registered by hand without it is read
 * from its security: none is public, "bearer or nothing" is optional, bearer alone is a user.
 */
export function accessOf({ operation }: Operation): Access {
  if (operation['x-access']) return operation['x-access'];
  const security = operation.security ?? [];
  if (security.length === 0) return 'public';
  return security.some((requirement) => Object.keys(requirement).length === 0) ? 'optional' : 'user';
}

function isReference(value: unknown): value is OpenAPIV3.ReferenceObject {
  return typeof value === 'object' && value !== null && '$ref' in value;
}

/** Follows `#/components/...` references; the document has no others. */
export function resolve<T>(doc: Document, value: T | OpenAPIV3.ReferenceObject): T {
  let current: unknown = value;
  for (let depth = 0; isReference(current); depth++) {
    if (depth > 20) throw new Error(`reference cycle at ${current.$ref}`);
    const ref = current.$ref;
    if (!ref.startsWith('#/')) throw new Error(`unsupported reference ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    if (current === undefined) throw new Error(`dangling reference ${ref}`);
  }
  return current as T;
}

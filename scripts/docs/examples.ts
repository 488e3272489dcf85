import type { OpenAPIV3 } from 'openapi-types';
import { resolve, type Document, type Schema } from './openApi';

/**
 * Values for fields by name, for schemas that carry no example of their own: a product the demo
 * catalog lacks (so adding it works after `order-ledger demo`), the demo's customer, who passes the
 * password policy, and the payment method that works without a provider.
 */
const byName: Record<string, unknown> = {
  email: 'ada@example.com',
  password: 'correct-horse-battery',
  sku: 'GRINDER-HAND',
  name: 'Hand coffee grinder',
  unitAmount: 5900,
  currency: 'EUR',
  quantity: 2,
  paymentMethod: 'MANUAL',
  reason: 'changed my mind',
  message: 'Orders placed today ship on Monday.',
  active: true,
  // Provider webhooks: the shape their events have (the signature headers decide whether they count).
  id: 'evt_demo_1',
  type: 'payment_intent.succeeded',
  event_type: 'PAYMENT.CAPTURE.COMPLETED',
};

/** `{{orderId}}` for an `orderId` field: the .http file declares these at its top. */
export const idVariable = (name: string): string => `{{${name}}}`;

/**
 * A value the schema accepts and a reader recognises: the schema's own example first, then a value
 * for the field's name, then one made from its type and bounds. Objects list their required fields,
 * or every field when none is required (a patch, an optional reason).
 */
export function exampleOf(doc: Document, schemaOrRef: Schema | OpenAPIV3.ReferenceObject, name?: string): unknown {
  const schema = resolve<Schema>(doc, schemaOrRef);
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (name !== undefined && name in byName) return byName[name];
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  if (schema.allOf?.[0]) return exampleOf(doc, schema.allOf[0], name);
  if (schema.oneOf?.[0]) return exampleOf(doc, schema.oneOf[0], name);
  if (schema.anyOf?.[0]) return exampleOf(doc, schema.anyOf[0], name);
  switch (schema.type) {
    case 'object':
    case undefined: {
      const properties = Object.entries(schema.properties ?? {});
      if (properties.length === 0) return {};
      const required = new Set(schema.required ?? []);
      const chosen = required.size > 0 ? properties.filter(([key]) => required.has(key)) : properties;
      return Object.fromEntries(chosen.map(([key, property]) => [key, exampleOf(doc, property, key)]));
    }
    case 'array':
      return [exampleOf(doc, schema.items, name)];
    case 'string':
      if (schema.format === 'uuid') return idVariable(name ?? 'id');
      if (schema.format === 'email') return byName.email;
      if (schema.format === 'date-time') return '2026-03-01T09:00:00.000Z';
      return name ?? 'text';
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    default: {
      const exhaustive: never = schema;
      throw new Error(`unhandled schema ${JSON.stringify(exhaustive)}`);
    }
  }
}

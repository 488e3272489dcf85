/**
 * Request examples, part of every route's registration. They feed Swagger UI (parameter and body
 * examples, one error example per documented status), docs/api.http, and a test that sends each of
 * them to a fresh server with demo data and checks the documented status.
 *
 * Values that only exist once the server has data are placeholders, `{{name}}`, from the list
 * below; docs/api.http declares them as variables and the examples test resolves each one fresh
 * for every request, as its description says.
 */
export const examplePlaceholders = {
  token: 'the "token" of POST /auth/login as a customer (routes for signed-in users)',
  adminToken: 'the "token" of POST /auth/login as an admin (admin routes; `order-ledger demo` makes an admin)',
  userId: 'the "id" of the signed-in customer (POST /auth/register answers it)',
  password: 'the password the signed-in customer registered with',
  productId: 'an "id" from GET /products (the demo catalog: the EUR espresso beans)',
  stockProductId: 'an "id" from GET /products of a product whose stock an admin counts (POST /products/{id}/stock/receive; the demo catalog: the moka pot)',
  orderId: 'data.order.id of POST /orders: an order of the signed-in customer paid with MANUAL, awaiting payment',
  paidOrderId: 'an order of the signed-in customer that an admin marked paid (POST /orders/{id}/mark-paid)',
  refundRequestedOrderId: 'a paid MANUAL order whose refund an admin requested (POST /orders/{id}/refund)',
  refundId: 'data.refund.refundId of POST /orders/{id}/refunds: a partial refund of {{paidOrderId}} awaiting confirmation (MANUAL)',
  failedRefundOrderId: 'a PAYPAL order, paid, whose partial refund PayPal refused (its refund is listed FAILED on the order)',
  failedRefundId: 'the refundId of the refused refund of {{failedRefundOrderId}}',
  deliveredOrderId: 'a paid order of the signed-in customer that an admin moved to DELIVERED (PATCH /orders/{id}/status)',
  returnId: 'data.returnId of POST /orders/{id}/returns: a requested return of {{deliveredOrderId}}',
  rejectedReturnId: 'a return of {{deliveredOrderId}} that an admin rejected (POST /orders/{id}/returns/{returnId}/reject)',
  approvedReturnId: 'a return of {{deliveredOrderId}} that an admin approved (POST /orders/{id}/returns/{returnId}/approve)',
  paypalOrderId: 'data.order.id of POST /orders with paymentMethod PAYPAL (needs PayPal keys), awaiting payment',
  approvedPaypalOrderId: 'a PAYPAL order whose buyer approved the payment at data.paymentUrl',
  paypalToken: 'the `token` parameter of data.paymentUrl of a PAYPAL order (PayPal appends it when it sends the buyer back)',
  approvedPaypalToken: 'the `token` of a PAYPAL order whose buyer approved the payment at data.paymentUrl',
} as const;

export type ExamplePlaceholder = keyof typeof examplePlaceholders;

/** `placeholder('orderId')` is `{{orderId}}`. */
export const placeholder = (name: ExamplePlaceholder): string => `{{${name}}}`;

/** A well-formed id nothing has: the request for a 404 example. */
export const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** Who sends an example: `user` sends `{{token}}`, `admin` sends `{{adminToken}}`. */
export type ExampleCaller = 'anonymous' | 'user' | 'admin';

export interface ExampleRequest {
  /** Path parameters by name (`{ id: placeholder('orderId') }`). */
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** The JSON body, as sent. */
  body?: unknown;
  /** Default: the route's access (`user` → user, `admin` → admin, `public`/`optional` → anonymous). */
  as?: ExampleCaller;
}

export interface ErrorExample {
  /** A code this route really answers with this status. */
  code: string;
  message: string;
  /** A request that gets this answer on a fresh server with demo data; left out where none can (a provider outage). */
  request?: ExampleRequest;
}

/** Stored on each operation of the OpenAPI document as `x-examples`. */
export interface OperationExamples {
  request: ExampleRequest & { as: ExampleCaller };
  /** By status code. */
  errors: Record<string, ErrorExample>;
}

export const EXAMPLES_EXTENSION = 'x-examples';

export function defaultCaller(access: 'public' | 'optional' | 'user' | 'admin'): ExampleCaller {
  return access === 'public' || access === 'optional' ? 'anonymous' : access;
}

/** The error envelope an error example shows in the document. */
export function errorExampleBody(example: ErrorExample): { status: 'error'; error: { code: string; message: string } } {
  return { status: 'error', error: { code: example.code, message: example.message } };
}

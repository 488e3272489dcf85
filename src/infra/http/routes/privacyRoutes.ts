import '../openapi';
import { z } from 'zod';
import { createCredentialVerifier, InvalidCredentialsError } from '../../../commands/accounts/users';
import { actorOf } from '../../../commands/order/orderAccess';
import { eraseCustomer, UserNotFoundError } from '../../../commands/privacy/eraseCustomer';
import { sealProfileAddress } from '../../../commands/privacy/personalData';
import { shippingAddressSchema } from '../../../commands/privacy/shippingAddress';
import { customerDataExportSchema, exportCustomerData, getProfile, profileSchema } from '../../../queries/privacy/customerData';
import type { Deps } from '../../deps';
import { loginRateLimit } from '../rateLimit';
import { placeholder, UNKNOWN_ID } from '../examples';
import { defineRoute, type RouteDeps } from '../route';

const userIdParams = z.object({ id: z.uuid().openapi({ description: 'User id' }) });

const eraseMeBodySchema = z
  .object({ password: z.string().min(1).max(1024).openapi({ description: 'The account password, to confirm' }) })
  .strict()
  .openapi('EraseMyDataRequest');

const defaultAddressBodySchema = z.object({ shippingAddress: shippingAddressSchema.nullable() }).strict().openapi('DefaultShippingAddressRequest');

export const erasureResponseSchema = z
  .object({
    userId: z.uuid(),
    cancelledOrderIds: z.array(z.uuid()).describe('Open orders cancelled (a paid one is refunded)'),
    erasedOrderIds: z.array(z.uuid()).describe('Orders whose personal data now reads as ERASED'),
    outboxFilesRemoved: z.number().int(),
  })
  .openapi('ErasureResult');

/** The customer's own data: profile and default address, export (Art. 15/20), erasure (Art. 17). */
export function registerPrivacyRoutes(routes: RouteDeps, deps: Deps): void {
  const verifyCredentials = createCredentialVerifier(deps.knex, { bcryptRounds: deps.config.BCRYPT_ROUNDS });
  const erasureDeps = {
    knex: deps.knex,
    store: deps.store,
    dataKeys: deps.dataKeys,
    mailOutboxDir: deps.config.SMTP_URL ? undefined : deps.config.MAIL_OUTBOX_DIR,
  };

  defineRoute(routes, {
    method: 'get',
    path: '/users/me',
    summary: 'The signed-in account: email, role, default shipping address',
    tags: ['Personal data'],
    access: 'user',
    example: {},
    responses: { 200: { description: 'The profile', schema: profileSchema } },
    handler: async ({ user }) => {
      const profile = await getProfile(deps.knex, deps.dataKeys, user!.id);
      if (!profile) throw new UserNotFoundError();
      return { status: 200, body: profile };
    },
  });

  defineRoute(routes, {
    method: 'put',
    path: '/users/me/shipping-address',
    summary: 'Set (or clear, with null) the default shipping address used when an order names none',
    tags: ['Personal data'],
    access: 'user',
    body: defaultAddressBodySchema,
    example: { body: { shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB', phone: '+44 20 7946 0958' } } },
    responses: {
      200: { description: 'The profile', schema: profileSchema },
      400: {
        description: 'A field missing or out of range (country is ISO 3166-1 alpha-2)',
        code: 'VALIDATION_FAILED',
        request: { body: { shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'XX' } } },
      },
    },
    handler: async ({ body, user }) => {
      const sealed = body.shippingAddress ? await sealProfileAddress(deps.dataKeys, user!.id, body.shippingAddress) : null;
      await deps.knex('users').where('id', user!.id).whereNull('erased_at').update({ default_shipping_address: sealed });
      const profile = await getProfile(deps.knex, deps.dataKeys, user!.id);
      if (!profile) throw new UserNotFoundError();
      return { status: 200, body: profile };
    },
  });

  defineRoute(routes, {
    method: 'get',
    path: '/users/me/data',
    summary: 'Everything held about the caller (profile, orders with history, addresses) as JSON',
    tags: ['Personal data'],
    access: 'user',
    example: {},
    responses: { 200: { description: 'The export', schema: customerDataExportSchema } },
    handler: async ({ user }) => {
      const data = await exportCustomerData(deps.knex, deps.dataKeys, user!.id, deps.clock().toISOString());
      if (!data) throw new UserNotFoundError();
      return { status: 200, body: data, headers: { 'Content-Disposition': 'attachment; filename="my-data.json"' } };
    },
  });

  defineRoute(routes, {
    method: 'delete',
    path: '/users/me',
    summary: 'Erase my personal data and close my account (password confirms); orders stay, anonymous',
    tags: ['Personal data'],
    access: 'user',
    body: eraseMeBodySchema,
    before: [loginRateLimit(deps)],
    example: { body: { password: placeholder('password') } },
    responses: {
      200: { description: 'Erased: the account is closed and every token revoked', schema: erasureResponseSchema },
      401: { description: 'Wrong password', code: 'INVALID_CREDENTIALS', message: 'Invalid email or password', request: { body: { password: 'not-my-password' } } },
      409: { description: 'An order is being prepared or shipped: erasure waits until it is delivered', code: 'ERASURE_WAITS_FOR_FULFILMENT' },
      429: { description: 'Too many password attempts', code: 'LOGIN_RATE_LIMITED' },
    },
    handler: async ({ body, user, requestId }) => {
      const profile = await getProfile(deps.knex, deps.dataKeys, user!.id);
      if (!profile) throw new InvalidCredentialsError();
      await verifyCredentials(profile.email, body.password);
      const result = await eraseCustomer(erasureDeps, user!.id, { now: deps.clock().toISOString(), context: { actor: actorOf(user!), requestId } });
      deps.auth.invalidate([user!.id]);
      return { status: 200, body: result };
    },
  });

  defineRoute(routes, {
    method: 'delete',
    path: '/users/:id',
    summary: "Erase a customer's personal data and close the account (admin)",
    tags: ['Personal data'],
    access: 'admin',
    params: userIdParams,
    example: { params: { id: placeholder('userId') } },
    responses: {
      200: { description: 'Erased', schema: erasureResponseSchema },
      404: { description: 'No such user', code: 'USER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
      409: { description: 'An order is being prepared or shipped: erasure waits until it is delivered', code: 'ERASURE_WAITS_FOR_FULFILMENT' },
    },
    handler: async ({ params, user, requestId }) => {
      const result = await eraseCustomer(erasureDeps, params.id, { now: deps.clock().toISOString(), context: { actor: actorOf(user!), requestId } });
      deps.auth.invalidate([params.id]);
      return { status: 200, body: result };
    },
  });
}

import '../openapi';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { signIn } from '../../../commands/accounts/sessions';
import { createCredentialVerifier, createUser, emailSchema, passwordSchema, refinePasswordAgainstEmail, userDtoSchema } from '../../../commands/accounts/users';
import { ForbiddenError, roleSchema } from '../authTokens';
import { loginRateLimit } from '../rateLimit';
import { DEMO_CUSTOMER } from '../../../cli/demo';
import { defineRoute, type RouteDeps } from '../route';

const registerBodySchema = z
  .object({
    email: emailSchema,
    password: passwordSchema,
    role: roleSchema.optional().openapi({ description: '"admin" only with an admin bearer token' }),
  })
  .strict()
  .superRefine(refinePasswordAgainstEmail)
  .openapi('RegisterRequest');

const loginBodySchema = z
  .object({ email: emailSchema, password: z.string().min(1).max(1024) })
  .strict()
  .openapi('LoginRequest');

const loginResponseSchema = z.object({ token: z.string().describe('HS256 JWT; send as "Authorization: Bearer <token>"'), user: userDtoSchema }).openapi('LoginResponse');

export function registerAuthRoutes(routes: RouteDeps, deps: Deps): void {
  const storeOptions = { bcryptRounds: deps.config.BCRYPT_ROUNDS };
  const sessions = { knex: deps.knex, tokens: deps.tokens, auth: deps.auth, verifyCredentials: createCredentialVerifier(deps.knex, storeOptions) };

  defineRoute(routes, {
    method: 'post',
    path: '/auth/register',
    summary: 'Create an account (role "admin" only when an admin is signed in)',
    tags: ['Auth'],
    access: 'optional',
    body: registerBodySchema,
    // The walkthrough's customer; the examples run in document order, so the login example below signs this account in.
    example: { body: { email: DEMO_CUSTOMER.email, password: DEMO_CUSTOMER.password } },
    responses: {
      201: { description: 'Account created', schema: userDtoSchema },
      400: {
        description: 'A password the policy refuses (details name the rule)',
        code: 'VALIDATION_FAILED',
        request: { body: { email: 'grace@example.com', password: 'password' } },
      },
      403: {
        description: 'Asked for the admin role without an admin token',
        code: 'ADMIN_ROLE_REQUIRED',
        message: 'Only an admin can create an admin account',
        request: { body: { email: 'grace@example.com', password: 'correct-horse-battery', role: 'admin' } },
      },
      409: {
        description: 'Email already registered (case-insensitive)',
        code: 'EMAIL_TAKEN',
        request: { body: { email: 'Admin@Shop.Example', password: 'correct-horse-battery' } },
      },
    },
    handler: async ({ body, user }) => {
      const role = body.role ?? 'user';
      if (role === 'admin' && user?.role !== 'admin') throw new ForbiddenError('Only an admin can create an admin account', 'ADMIN_ROLE_REQUIRED');
      const created = await createUser(deps.knex, { email: body.email, password: body.password, role }, storeOptions);
      return { status: 201, body: created };
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/auth/login',
    summary: 'Exchange email and password for a bearer token',
    tags: ['Auth'],
    access: 'public',
    body: loginBodySchema,
    before: [loginRateLimit(deps)],
    example: { body: { email: DEMO_CUSTOMER.email, password: DEMO_CUSTOMER.password } },
    responses: {
      200: { description: 'Signed in', schema: loginResponseSchema },
      401: {
        description: 'Wrong email or password (same answer for both); ACCOUNT_DISABLED for a disabled account with the right password',
        code: 'INVALID_CREDENTIALS',
        message: 'Invalid email or password',
        request: { body: { email: DEMO_CUSTOMER.email, password: 'not-my-password' } },
      },
      429: { description: 'Too many login attempts', code: 'LOGIN_RATE_LIMITED', message: 'Too many login attempts; retry later' },
    },
    handler: async ({ body }) => ({ status: 200, body: await signIn(sessions, body.email, body.password) }),
  });
}

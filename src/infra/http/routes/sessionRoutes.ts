import '../openapi';
import { z } from 'zod';
import { signOut, signOutEverywhere } from '../../../commands/accounts/sessions';
import type { Deps } from '../../deps';
import { bearerToken } from '../authTokens';
import { placeholder, UNKNOWN_ID } from '../examples';
import { defineRoute, type RouteDeps } from '../route';

const userIdParams = z.object({ id: z.uuid().openapi({ description: 'User id' }) });

/**
 * Revocation. Each change is announced to every API instance by the database (0005_auth_state
 * triggers); this instance also drops its cached account at once, so the caller's next request
 * here already sees it.
 */
export function registerSessionRoutes(routes: RouteDeps, deps: Deps): void {
  const sessions = { knex: deps.knex, tokens: deps.tokens, auth: deps.auth };
  defineRoute(routes, {
    method: 'post',
    path: '/auth/logout',
    summary: 'Revoke the bearer token of this request (other tokens of the user keep working)',
    tags: ['Auth'],
    access: 'user',
    example: {},
    responses: { 204: { description: 'Revoked: the token now gets 401 TOKEN_REVOKED everywhere, sockets opened with it are disconnected' } },
    handler: async ({ req }) => {
      await signOut(sessions, bearerToken(req.headers.authorization)!);
      return { status: 204, body: undefined };
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/auth/logout-all',
    summary: 'Revoke every token of the signed-in user (all devices); sign in again for a new one',
    tags: ['Auth'],
    access: 'user',
    example: {},
    responses: { 204: { description: 'Every token signed before now gets 401 TOKEN_REVOKED; their sockets are disconnected' } },
    handler: async ({ user }) => {
      await signOutEverywhere(sessions, user!.id);
      return { status: 204, body: undefined };
    },
  });

  defineRoute(routes, {
    method: 'post',
    path: '/users/:id/revoke-tokens',
    summary: 'Revoke every token of a user (admin); the user can sign in again',
    tags: ['Auth'],
    access: 'admin',
    params: userIdParams,
    example: { params: { id: placeholder('userId') } },
    responses: {
      204: { description: 'Every token of the user signed before now gets 401 TOKEN_REVOKED; their sockets are disconnected' },
      404: { description: 'No such user (USER_NOT_FOUND)', code: 'USER_NOT_FOUND', request: { params: { id: UNKNOWN_ID } } },
    },
    handler: async ({ params }) => {
      await signOutEverywhere(sessions, params.id);
      return { status: 204, body: undefined };
    },
  });
}

import { z } from 'zod';
import { AppError } from '../../errors';
import type { VerifiedToken } from '../../tokens/service';
import type { Route } from './types';
import { parseBody } from './types';

/** Only `grace`: a token cannot choose its successor's expiry (it gets its own lifetime again, capped at the max). */
const rotateSelf = z.strictObject({ grace: z.string().optional() });

function self(token: VerifiedToken | null): VerifiedToken {
  // `auth: 'token'` guarantees a trigger token; this only keeps the types honest.
  if (token === null) throw new AppError('unauthorized', 'authentication is required: send the header "Authorization: Bearer <token>"');
  return token;
}

/**
 * Self-service (SPEC "Token controls and self-service"): a trigger token acting on itself, with no
 * admin rights. Served where the trigger is; the token's IP allow-list holds here too; audit actor
 * `self:<token id>`.
 */
export const selfRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/token',
    auth: 'token',
    handle: async ({ services, token }) => ({ status: 200, json: { token: await services.tokens.get(self(token).id) } }),
  },
  {
    method: 'post',
    path: '/v1/token/rotate',
    auth: 'token',
    handle: async ({ services, token, req }) => {
      const body = parseBody(rotateSelf, req.body);
      const issued = await services.tokens.rotateSelf(self(token).id, body.grace);
      return { status: 201, json: { token: issued.token, value: issued.value, previous: issued.previous } };
    },
  },
  {
    method: 'post',
    path: '/v1/token/revoke',
    auth: 'token',
    handle: async ({ services, token, actor }) => ({ status: 200, json: { token: await services.tokens.revoke(self(token).id, actor) } }),
  },
];

import { z } from 'zod';
import { AppError } from '../../errors';
import type { VerifiedToken } from '../../tokens/service';
import { one, RotatedTokenSchema, TokenSchema } from './schemas';
import { route, type Route } from './types';

/** Only `grace`: a token cannot choose its successor's expiry (it gets its own lifetime again, capped at the max). */
const rotateSelf = z.strictObject({ grace: z.string().optional().meta({ description: 'How long this token keeps working after the rotation (e.g. 1h); default MM_ROTATE_GRACE.' }) });

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
const tag = 'self-service';

export const selfRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/token',
    auth: 'token',
    tag,
    summary: 'The calling token itself (status, expiry, controls)',
    responses: { 200: { description: 'The token.', schema: one('token', TokenSchema) } },
    handle: async ({ services, token }) => ({ status: 200, json: { token: await services.tokens.get(self(token).id) } }),
  }),
  route({
    method: 'post',
    path: '/v1/token/rotate',
    auth: 'token',
    tag,
    summary: 'Rotate the calling token: a new value now, this one keeps working for the grace period',
    body: rotateSelf,
    responses: { 201: { description: 'The new token with its value (shown once) and the previous one.', schema: RotatedTokenSchema } },
    handle: async ({ services, token, body }) => {
      const issued = await services.tokens.rotateSelf(self(token).id, body.grace);
      return { status: 201, json: { token: issued.token, value: issued.value, previous: issued.previous } };
    },
  }),
  route({
    method: 'post',
    path: '/v1/token/revoke',
    auth: 'token',
    tag,
    summary: 'Revoke the calling token',
    responses: { 200: { description: 'The token, revoked.', schema: one('token', TokenSchema) } },
    handle: async ({ services, token, actor }) => ({ status: 200, json: { token: await services.tokens.revoke(self(token).id, actor) } }),
  }),
];

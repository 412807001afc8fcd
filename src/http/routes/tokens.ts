import { z } from 'zod';
import { parseDuration, parseTime } from '../../duration';
import { invalidField } from '../../errors';
import { pageLimit } from '../../paging';
import { requireStatus } from '../../tokens/status';
import { unusedFilter } from '../../tokens/usage-report';
import { IssuedTokenSchema, one, PAGE_QUERY, pageOf, RotatedTokenSchema, TokenSchema } from './schemas';
import { queryParam, route, type Route } from './types';

const expiry = {
  expires_at: z.string().optional().meta({ description: 'When it expires (RFC 3339); give this or expires_in.' }),
  expires_in: z.string().optional().meta({ description: 'Its lifetime from now: 30d, 12h, 2w, 1y…; give this or expires_at.' }),
};
const createToken = z.object({
  name: z.string().meta({ description: 'A label for people (1–100 characters).' }),
  ...expiry,
  rate_limit: z.number().int().min(1).max(1_000_000).nullable().optional().meta({ description: 'Requests per minute; null or absent for no limit.' }),
  // Token controls (src/tokens/controls.ts checks them; the service checks the pipelines exist).
  description: z.string().nullable().optional().meta({ description: 'Text for people, up to 500 characters.' }),
  pipelines: z.array(z.string()).nullable().optional().meta({ description: 'The pipelines of the app it may trigger; null or absent for all.' }),
  allowed_ips: z.array(z.string()).nullable().optional().meta({ description: 'Addresses and CIDR ranges it may be used from; null or absent for anywhere.' }),
});
const refreshToken = z.object(expiry);
const rotateToken = z.object({ grace: z.string().optional().meta({ description: 'How long the old token keeps working (e.g. 1h); default MM_ROTATE_GRACE.' }), ...expiry });

/**
 * The expiry of a create/refresh/rotate body as the services take it: exactly one of
 * `expires_at` (RFC 3339) and `expires_in` (a duration such as 30d); errors name the field.
 */
function expiryOf(body: { expires_at?: string | undefined; expires_in?: string | undefined }, required: boolean): string | undefined {
  if (body.expires_at !== undefined && body.expires_in !== undefined) throw invalidField('expires_at', 'give either expires_at or expires_in, not both');
  if (body.expires_at !== undefined) {
    if (parseTime(body.expires_at) === undefined) throw invalidField('expires_at', `"${body.expires_at.slice(0, 40)}" is not an RFC 3339 time such as 2027-01-31T12:00:00Z`);
    return body.expires_at;
  }
  if (body.expires_in !== undefined) {
    if (parseDuration(body.expires_in) === undefined) throw invalidField('expires_in', `"${body.expires_in.slice(0, 40)}" is not a duration such as 30d, 12h, 2w or 1y`);
    return body.expires_in;
  }
  if (required) throw invalidField('expires_at', 'an expiry is required: give expires_at (RFC 3339) or expires_in (e.g. "30d")');
  return undefined;
}

const tag = 'tokens';
const oneToken = one('token', TokenSchema);
const noToken = { description: 'No such app, or no such token in it.' };

export const tokenRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/apps/:app/tokens',
    auth: 'admin',
    tag,
    summary: "List an app's tokens, newest first",
    query: z.object({
      status: queryParam('Only tokens with this status: active (includes expiring), expiring, expired or revoked.'),
      search: queryParam('Only tokens whose name contains this text.'),
      unused: queryParam('Only active tokens not used for this long (a duration such as 30d).'),
      ...PAGE_QUERY,
    }),
    responses: { 200: { description: 'A page of tokens.', schema: pageOf('tokens', TokenSchema) }, 404: { description: 'No such app.' } },
    handle: async ({ services, params, query }) => {
      const page = await services.tokens.page(params.app!, {
        status: query.status === undefined ? undefined : requireStatus(query.status),
        search: query.search,
        unusedForMs: unusedFilter(query.unused),
        limit: pageLimit(query.limit),
        cursor: query.cursor,
      });
      return { status: 200, json: { tokens: page.items, next_cursor: page.nextCursor } };
    },
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/tokens',
    auth: 'admin',
    tag,
    summary: 'Create a trigger token (its value is answered once)',
    body: createToken,
    responses: { 201: { description: 'Created: store the value now, no other answer holds it.', schema: IssuedTokenSchema }, 404: { description: 'No such app.' } },
    handle: async ({ services, params, body, actor }) => {
      const expires = expiryOf(body, true)!;
      const issued = await services.tokens.create(
        { app: params.app!, name: body.name, expires, rateLimit: body.rate_limit ?? null, description: body.description, pipelines: body.pipelines, allowedIps: body.allowed_ips },
        actor,
      );
      return { status: 201, json: { token: issued.token, value: issued.value } };
    },
  }),
  route({
    method: 'get',
    path: '/v1/apps/:app/tokens/:id',
    auth: 'admin',
    tag,
    summary: 'Get a token',
    responses: { 200: { description: 'The token.', schema: oneToken }, 404: noToken },
    handle: async ({ services, params }) => {
      await services.apps.require(params.app!);
      return { status: 200, json: { token: await services.tokens.get(params.id!, { app: params.app! }) } };
    },
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/revoke',
    auth: 'admin',
    tag,
    summary: 'Revoke a token (its open streams end too)',
    responses: { 200: { description: 'The token, revoked.', schema: oneToken }, 404: noToken },
    handle: async ({ services, params, actor }) => {
      await services.apps.require(params.app!);
      return { status: 200, json: { token: await services.tokens.revoke(params.id!, actor, { app: params.app! }) } };
    },
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/refresh',
    auth: 'admin',
    tag,
    summary: 'Give a token a new expiry (same value)',
    body: refreshToken,
    responses: { 200: { description: 'The token with its new expiry.', schema: oneToken }, 404: noToken },
    handle: async ({ services, params, body, actor }) => {
      await services.apps.require(params.app!);
      const expires = expiryOf(body, true)!;
      return { status: 200, json: { token: await services.tokens.refresh(params.id!, expires, actor, { app: params.app! }) } };
    },
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/rotate',
    auth: 'admin',
    tag,
    summary: 'Rotate a token: a new value now, the old one works for the grace period',
    body: rotateToken,
    responses: { 201: { description: 'The new token with its value (shown once) and the previous one.', schema: RotatedTokenSchema }, 404: noToken },
    handle: async ({ services, params, body, actor }) => {
      await services.apps.require(params.app!);
      const issued = await services.tokens.rotate(params.id!, { grace: body.grace, expires: expiryOf(body, false) }, actor, { app: params.app! });
      return { status: 201, json: { token: issued.token, value: issued.value, previous: issued.previous } };
    },
  }),
];

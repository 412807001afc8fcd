import { z } from 'zod';
import { parseDuration, parseTime } from '../../duration';
import { invalidField } from '../../errors';
import { pageLimit } from '../../paging';
import { requireStatus } from '../../tokens/status';
import { unusedFilter } from '../../tokens/usage-report';
import type { Route } from './types';
import { parseBody, queryString } from './types';

const expiry = { expires_at: z.string().optional(), expires_in: z.string().optional() };
const createToken = z.object({
  name: z.string(),
  ...expiry,
  rate_limit: z.number().int().min(1).max(1_000_000).nullable().optional(),
  // Token controls (src/tokens/controls.ts checks them; the service checks the pipelines exist).
  description: z.string().nullable().optional(),
  pipelines: z.array(z.string()).nullable().optional(),
  allowed_ips: z.array(z.string()).nullable().optional(),
});
const refreshToken = z.object(expiry);
const rotateToken = z.object({ grace: z.string().optional(), ...expiry });

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

export const tokenRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/apps/:app/tokens',
    auth: 'admin',
    handle: async ({ services, params, req }) => {
      const status = queryString(req.query.status, 'status');
      const page = await services.tokens.page(params.app!, {
        status: status === undefined ? undefined : requireStatus(status),
        search: queryString(req.query.search, 'search'),
        unusedForMs: unusedFilter(queryString(req.query.unused, 'unused')),
        limit: pageLimit(queryString(req.query.limit, 'limit')),
        cursor: queryString(req.query.cursor, 'cursor'),
      });
      return { status: 200, json: { tokens: page.items, next_cursor: page.nextCursor } };
    },
  },
  {
    method: 'post',
    path: '/v1/apps/:app/tokens',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      const body = parseBody(createToken, req.body);
      const expires = expiryOf(body, true)!;
      const issued = await services.tokens.create(
        { app: params.app!, name: body.name, expires, rateLimit: body.rate_limit ?? null, description: body.description, pipelines: body.pipelines, allowedIps: body.allowed_ips },
        actor,
      );
      return { status: 201, json: { token: issued.token, value: issued.value } };
    },
  },
  {
    method: 'get',
    path: '/v1/apps/:app/tokens/:id',
    auth: 'admin',
    handle: async ({ services, params }) => {
      await services.apps.require(params.app!);
      return { status: 200, json: { token: await services.tokens.get(params.id!, { app: params.app! }) } };
    },
  },
  {
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/revoke',
    auth: 'admin',
    handle: async ({ services, params, actor }) => {
      await services.apps.require(params.app!);
      return { status: 200, json: { token: await services.tokens.revoke(params.id!, actor, { app: params.app! }) } };
    },
  },
  {
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/refresh',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      await services.apps.require(params.app!);
      const expires = expiryOf(parseBody(refreshToken, req.body), true)!;
      return { status: 200, json: { token: await services.tokens.refresh(params.id!, expires, actor, { app: params.app! }) } };
    },
  },
  {
    method: 'post',
    path: '/v1/apps/:app/tokens/:id/rotate',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      await services.apps.require(params.app!);
      const body = parseBody(rotateToken, req.body);
      const issued = await services.tokens.rotate(params.id!, { grace: body.grace, expires: expiryOf(body, false) }, actor, { app: params.app! });
      return { status: 201, json: { token: issued.token, value: issued.value, previous: issued.previous } };
    },
  },
];

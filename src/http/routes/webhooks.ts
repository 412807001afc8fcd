import { z } from 'zod';
import { pageLimit } from '../../paging';
import type { Route } from './types';
import { parseBody, queryString } from './types';

const setWebhook = z.object({ url: z.string() });

/**
 * An app's webhooks (docs/usage-and-webhooks.md). `POST` answers the signing secret once; no other
 * answer holds it. Deliveries are listed newest first and paged like every list.
 */
export const webhookRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/apps/:app/webhooks',
    auth: 'admin',
    handle: async ({ services, params }) => ({ status: 200, json: { webhooks: await services.webhooks.list(params.app!) } }),
  },
  {
    method: 'post',
    path: '/v1/apps/:app/webhooks',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      const body = parseBody(setWebhook, req.body);
      const created = await services.webhooks.set(params.app!, body.url, actor);
      return { status: 201, json: { webhook: created.webhook, secret: created.secret } };
    },
  },
  // A path of its own (not /webhooks/deliveries, which /webhooks/:id would also match).
  {
    method: 'get',
    path: '/v1/apps/:app/webhook-deliveries',
    auth: 'admin',
    handle: async ({ services, params, req }) => {
      const page = await services.webhooks.deliveries(params.app!, {
        webhookId: queryString(req.query.webhook, 'webhook'),
        status: queryString(req.query.status, 'status'),
        limit: pageLimit(queryString(req.query.limit, 'limit')),
        cursor: queryString(req.query.cursor, 'cursor'),
      });
      return { status: 200, json: { deliveries: page.items, next_cursor: page.nextCursor } };
    },
  },
  {
    method: 'get',
    path: '/v1/apps/:app/webhooks/:id',
    auth: 'admin',
    handle: async ({ services, params }) => ({ status: 200, json: { webhook: await services.webhooks.get(params.app!, params.id!) } }),
  },
  {
    method: 'delete',
    path: '/v1/apps/:app/webhooks/:id',
    auth: 'admin',
    handle: async ({ services, params, actor }) => {
      await services.webhooks.remove(params.app!, params.id!, actor);
      return { status: 204 };
    },
  },
  {
    method: 'post',
    path: '/v1/apps/:app/webhooks/:id/test',
    auth: 'admin',
    handle: async ({ services, params }) => ({ status: 200, json: { delivery: await services.webhooks.test(params.app!, params.id!) } }),
  },
];

import { z } from 'zod';
import { pageLimit } from '../../paging';
import { one, PAGE_QUERY, pageOf, WebhookDeliverySchema, WebhookSchema } from './schemas';
import { queryParam, route, type Route } from './types';

const setWebhook = z.object({ url: z.string().meta({ description: 'Where to POST the events (https, or http to loopback).' }) });

/**
 * An app's webhooks (docs/usage-and-webhooks.md). `POST` answers the signing secret once; no other
 * answer holds it. Deliveries are listed newest first and paged like every list.
 */
const tag = 'webhooks';
const noWebhook = { description: 'No such app, or no such webhook in it.' };

export const webhookRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/apps/:app/webhooks',
    auth: 'admin',
    tag,
    summary: "List an app's webhooks",
    responses: { 200: { description: 'Every webhook of the app.', schema: z.object({ webhooks: z.array(WebhookSchema) }) }, 404: { description: 'No such app.' } },
    handle: async ({ services, params }) => ({ status: 200, json: { webhooks: await services.webhooks.list(params.app!) } }),
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/webhooks',
    auth: 'admin',
    tag,
    summary: 'Add a webhook (its signing secret is answered once)',
    body: setWebhook,
    responses: {
      201: { description: 'Created: store the secret now.', schema: z.object({ webhook: WebhookSchema, secret: z.string() }) },
      404: { description: 'No such app.' },
    },
    handle: async ({ services, params, body, actor }) => {
      const created = await services.webhooks.set(params.app!, body.url, actor);
      return { status: 201, json: { webhook: created.webhook, secret: created.secret } };
    },
  }),
  // A path of its own (not /webhooks/deliveries, which /webhooks/:id would also match).
  route({
    method: 'get',
    path: '/v1/apps/:app/webhook-deliveries',
    auth: 'admin',
    tag,
    summary: "An app's webhook deliveries, newest first",
    query: z.object({ webhook: queryParam('Only the deliveries of this webhook (its id).'), status: queryParam('Only deliveries with this status: pending, delivered or failed.'), ...PAGE_QUERY }),
    responses: { 200: { description: 'A page of deliveries.', schema: pageOf('deliveries', WebhookDeliverySchema) }, 404: { description: 'No such app.' } },
    handle: async ({ services, params, query }) => {
      const page = await services.webhooks.deliveries(params.app!, { webhookId: query.webhook, status: query.status, limit: pageLimit(query.limit), cursor: query.cursor });
      return { status: 200, json: { deliveries: page.items, next_cursor: page.nextCursor } };
    },
  }),
  route({
    method: 'get',
    path: '/v1/apps/:app/webhooks/:id',
    auth: 'admin',
    tag,
    summary: 'Get a webhook',
    responses: { 200: { description: 'The webhook.', schema: one('webhook', WebhookSchema) }, 404: noWebhook },
    handle: async ({ services, params }) => ({ status: 200, json: { webhook: await services.webhooks.get(params.app!, params.id!) } }),
  }),
  route({
    method: 'delete',
    path: '/v1/apps/:app/webhooks/:id',
    auth: 'admin',
    tag,
    summary: 'Delete a webhook',
    responses: { 204: { description: 'Deleted.' }, 404: noWebhook },
    handle: async ({ services, params, actor }) => {
      await services.webhooks.remove(params.app!, params.id!, actor);
      return { status: 204 };
    },
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/webhooks/:id/test',
    auth: 'admin',
    tag,
    summary: 'Send a test event to a webhook now',
    responses: { 200: { description: 'The delivery, after its first attempt.', schema: one('delivery', WebhookDeliverySchema) }, 404: noWebhook },
    handle: async ({ services, params }) => ({ status: 200, json: { delivery: await services.webhooks.test(params.app!, params.id!) } }),
  }),
];

import { z } from 'zod';
import { AppSchema, one } from './schemas';
import { route, type Route } from './types';

const createApp = z.object({
  slug: z.string().meta({ description: '1–63 lowercase letters, digits and dashes, starting with a letter or digit.' }),
  name: z.string().optional().meta({ description: 'A label for people; default the slug.' }),
});

export const appRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/apps',
    auth: 'admin',
    tag: 'apps',
    summary: 'List the apps',
    responses: { 200: { description: 'Every app.', schema: z.object({ apps: z.array(AppSchema) }) } },
    handle: async ({ services }) => ({ status: 200, json: { apps: await services.apps.list() } }),
  }),
  route({
    method: 'post',
    path: '/v1/apps',
    auth: 'admin',
    tag: 'apps',
    summary: 'Create an app',
    body: createApp,
    responses: { 201: { description: 'Created.', schema: one('app', AppSchema) }, 409: { description: 'An app with that slug exists.' } },
    handle: async ({ services, body, actor }) => ({ status: 201, json: { app: await services.apps.create(body, actor) } }),
  }),
];

import { z } from 'zod';
import type { Route } from './types';
import { parseBody } from './types';

const createApp = z.object({ slug: z.string(), name: z.string().optional() });

export const appRoutes: Route[] = [
  { method: 'get', path: '/v1/apps', auth: 'admin', handle: async ({ services }) => ({ status: 200, json: { apps: await services.apps.list() } }) },
  {
    method: 'post',
    path: '/v1/apps',
    auth: 'admin',
    handle: async ({ services, req, actor }) => {
      const body = parseBody(createApp, req.body);
      return { status: 201, json: { app: await services.apps.create(body, actor) } };
    },
  },
];

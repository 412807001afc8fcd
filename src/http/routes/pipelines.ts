import { z } from 'zod';
import type { Route } from './types';
import { parseBody } from './types';

const createPipeline = z.object({ slug: z.string(), kind: z.string(), config: z.unknown().optional() });
const replacePipeline = z.object({ kind: z.string(), config: z.unknown().optional() });

export const pipelineRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/apps/:app/pipelines',
    auth: 'admin',
    handle: async ({ services, params }) => ({ status: 200, json: { pipelines: await services.pipelines.list(params.app!) } }),
  },
  {
    method: 'post',
    path: '/v1/apps/:app/pipelines',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      const body = parseBody(createPipeline, req.body);
      return { status: 201, json: { pipeline: await services.pipelines.create(params.app!, body, actor) } };
    },
  },
  {
    method: 'get',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: async ({ services, params }) => ({ status: 200, json: { pipeline: await services.pipelines.get(params.app!, params.slug!) } }),
  },
  {
    method: 'put',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: async ({ services, params, req, actor }) => {
      const body = parseBody(replacePipeline, req.body);
      return { status: 200, json: { pipeline: await services.pipelines.update(params.app!, params.slug!, body, actor) } };
    },
  },
  {
    method: 'delete',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: async ({ services, params, actor }) => {
      await services.pipelines.remove(params.app!, params.slug!, actor);
      return { status: 204 };
    },
  },
];

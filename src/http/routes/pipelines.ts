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
    handle: ({ services, params }) => ({ status: 200, json: { pipelines: services.pipelines.list(params.app!) } }),
  },
  {
    method: 'post',
    path: '/v1/apps/:app/pipelines',
    auth: 'admin',
    handle: ({ services, params, req, actor }) => {
      const body = parseBody(createPipeline, req.body);
      return { status: 201, json: { pipeline: services.pipelines.create(params.app!, body, actor) } };
    },
  },
  {
    method: 'get',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: ({ services, params }) => ({ status: 200, json: { pipeline: services.pipelines.get(params.app!, params.slug!) } }),
  },
  {
    method: 'put',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: ({ services, params, req, actor }) => {
      const body = parseBody(replacePipeline, req.body);
      return { status: 200, json: { pipeline: services.pipelines.update(params.app!, params.slug!, body, actor) } };
    },
  },
  {
    method: 'delete',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    handle: ({ services, params, actor }) => {
      services.pipelines.remove(params.app!, params.slug!, actor);
      return { status: 204 };
    },
  },
];

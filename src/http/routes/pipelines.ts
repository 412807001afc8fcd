import { z } from 'zod';
import { AppError } from '../../errors';
import type { Services } from '../../services';
import type { Route } from './types';
import { parseBody } from './types';

const createPipeline = z.object({ slug: z.string(), kind: z.string(), config: z.unknown().optional() });
const replacePipeline = z.object({ kind: z.string(), config: z.unknown().optional() });

/**
 * A `command` pipeline runs a program on the server's machine, so creating or changing one over
 * HTTP would make an admin token a remote shell (issue 9, finding 7). Over HTTP it is refused with
 * 403 `local_only` unless the operator sets MM_ALLOW_REMOTE_COMMANDS=1; the CLI and the TUI, which
 * run on the machine itself, can always do it. Changing a command pipeline into another kind, and
 * deleting one, stay allowed: they take the power away.
 */
function refuseRemoteCommand(services: Services, kind: string): void {
  if (kind === 'command' && !services.config.allowRemoteCommands) {
    throw new AppError(
      'local_only',
      'command pipelines run programs on the server, so they are created and changed only on its machine: use `mechamental pipelines add … --kind command` or the TUI there (or set MM_ALLOW_REMOTE_COMMANDS=1 on the server to allow it over HTTP)',
    );
  }
}

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
      refuseRemoteCommand(services, body.kind);
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
      refuseRemoteCommand(services, body.kind);
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

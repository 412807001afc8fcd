import { z } from 'zod';
import { AppError } from '../../errors';
import type { Services } from '../../services';
import { PIPELINE_KINDS } from '../../apps/pipeline-config';
import { one, PipelineSchema } from './schemas';
import { route, type Route } from './types';

const kind = z.string().meta({ description: `One of ${PIPELINE_KINDS.join(', ')} (command only on the server's machine unless MM_ALLOW_REMOTE_COMMANDS=1).` });
const config = z.unknown().optional().meta({ description: "The kind's settings (see the README's pipeline kinds); default the kind's defaults." });
const createPipeline = z.object({ slug: z.string().meta({ description: 'Unique in the app: 1–63 lowercase letters, digits and dashes.' }), kind, config });
const replacePipeline = z.object({ kind, config });

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

const tag = 'pipelines';
const onePipeline = one('pipeline', PipelineSchema);
const localOnly = { description: 'A command pipeline over HTTP without MM_ALLOW_REMOTE_COMMANDS=1 (`local_only`).' };

export const pipelineRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/apps/:app/pipelines',
    auth: 'admin',
    tag,
    summary: "List an app's pipelines",
    responses: { 200: { description: 'Every pipeline of the app.', schema: z.object({ pipelines: z.array(PipelineSchema) }) }, 404: { description: 'No such app.' } },
    handle: async ({ services, params }) => ({ status: 200, json: { pipelines: await services.pipelines.list(params.app!) } }),
  }),
  route({
    method: 'post',
    path: '/v1/apps/:app/pipelines',
    auth: 'admin',
    tag,
    summary: 'Create a pipeline',
    body: createPipeline,
    responses: { 201: { description: 'Created.', schema: onePipeline }, 403: localOnly, 404: { description: 'No such app.' }, 409: { description: 'A pipeline with that slug exists.' } },
    handle: async ({ services, params, body, actor }) => {
      refuseRemoteCommand(services, body.kind);
      return { status: 201, json: { pipeline: await services.pipelines.create(params.app!, body, actor) } };
    },
  }),
  route({
    method: 'get',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    tag,
    summary: 'Get a pipeline',
    responses: { 200: { description: 'The pipeline.', schema: onePipeline }, 404: { description: 'No such app or pipeline.' } },
    handle: async ({ services, params }) => ({ status: 200, json: { pipeline: await services.pipelines.get(params.app!, params.slug!) } }),
  }),
  route({
    method: 'put',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    tag,
    summary: "Replace a pipeline's kind and config",
    body: replacePipeline,
    responses: { 200: { description: 'Replaced.', schema: onePipeline }, 403: localOnly, 404: { description: 'No such app or pipeline.' } },
    handle: async ({ services, params, body, actor }) => {
      refuseRemoteCommand(services, body.kind);
      return { status: 200, json: { pipeline: await services.pipelines.update(params.app!, params.slug!, body, actor) } };
    },
  }),
  route({
    method: 'delete',
    path: '/v1/apps/:app/pipelines/:slug',
    auth: 'admin',
    tag,
    summary: 'Delete a pipeline',
    responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such app or pipeline.' } },
    handle: async ({ services, params, actor }) => {
      await services.pipelines.remove(params.app!, params.slug!, actor);
      return { status: 204 };
    },
  }),
];

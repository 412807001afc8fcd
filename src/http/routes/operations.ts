import { z } from 'zod';
import { ErrorSchema } from './schemas';
import { route, type Route } from './types';

/** Operations endpoints: no auth, on the same listener. */
export const operationRoutes: Route[] = [
  route({
    method: 'get',
    path: '/healthz',
    auth: 'none',
    tag: 'operations',
    summary: 'Liveness: the process answers',
    responses: { 200: { description: 'Alive.', schema: z.object({ status: z.literal('ok') }) } },
    handle: () => ({ status: 200, json: { status: 'ok' } }),
  }),
  route({
    method: 'get',
    path: '/readyz',
    auth: 'none',
    tag: 'operations',
    summary: 'Readiness: the database answers',
    responses: {
      200: { description: 'Ready.', schema: z.object({ status: z.literal('ready') }) },
      503: { description: 'Not ready (the message says why).', schema: ErrorSchema },
    },
    handle: async ({ services, logger }) => {
      let problem: string | undefined;
      try {
        problem = await services.store.checkReady();
      } catch (error) {
        logger.warn({ err: error }, 'readiness check: the database does not answer');
        problem = 'the database does not answer';
      }
      if (problem === undefined) return { status: 200, json: { status: 'ready' } };
      logger.warn({ problem }, 'not ready');
      return { status: 503, json: { error: { code: 'unavailable', message: problem } } };
    },
  }),
  route({
    method: 'get',
    path: '/metrics',
    auth: 'none',
    tag: 'operations',
    summary: 'Prometheus metrics (text exposition format)',
    responses: { 200: { description: 'The metrics.', contentType: 'text/plain', schema: z.string() } },
    handle: async ({ metrics }) => ({ status: 200, text: await metrics.text(), contentType: metrics.contentType }),
  }),
];

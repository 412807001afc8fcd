import type { Route } from './types';

/** Operations endpoints: no auth, on the same listener. */
export const operationRoutes: Route[] = [
  { method: 'get', path: '/healthz', auth: 'none', handle: () => ({ status: 200, json: { status: 'ok' } }) },
  {
    method: 'get',
    path: '/readyz',
    auth: 'none',
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
  },
  {
    method: 'get',
    path: '/metrics',
    auth: 'none',
    handle: async ({ metrics }) => ({ status: 200, text: await metrics.text(), contentType: metrics.contentType }),
  },
];

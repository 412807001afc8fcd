import type { Route } from './types';

/** Operations endpoints: no auth, on the same listener. */
export const operationRoutes: Route[] = [
  { method: 'get', path: '/healthz', auth: 'none', handle: () => ({ status: 200, json: { status: 'ok' } }) },
  {
    method: 'get',
    path: '/readyz',
    auth: 'none',
    handle: ({ services, logger }) => {
      try {
        services.db.sqlite.prepare('SELECT count(*) FROM apps').get();
        return { status: 200, json: { status: 'ready' } };
      } catch (error) {
        logger.warn({ err: error }, 'readiness check: the database does not answer');
        return { status: 503, json: { error: { code: 'database_busy', message: 'the database does not answer' } } };
      }
    },
  },
  {
    method: 'get',
    path: '/metrics',
    auth: 'none',
    handle: async ({ metrics }) => ({ status: 200, text: await metrics.text(), contentType: metrics.contentType }),
  },
];

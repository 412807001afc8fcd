import { invalidField } from '../../errors';
import type { Route } from './types';

function queryString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidField(field, 'must be given once');
  return value;
}

export const auditRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/audit',
    auth: 'admin',
    handle: async ({ services, req }) => {
      const app = queryString(req.query.app, 'app');
      const limitText = queryString(req.query.limit, 'limit');
      if (limitText !== undefined && !/^\d+$/.test(limitText)) throw invalidField('limit', `must be a whole number from 1 to 1000 (got "${limitText.slice(0, 20)}")`);
      const events = await services.audit.list({ ...(app ? { app } : {}), ...(limitText ? { limit: Number(limitText) } : {}) });
      return { status: 200, json: { events } };
    },
  },
];

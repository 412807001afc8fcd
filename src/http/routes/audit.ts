import { pageLimit } from '../../paging';
import type { Route } from './types';
import { queryString } from './types';

export const auditRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/audit',
    auth: 'admin',
    handle: async ({ services, req }) => {
      const page = await services.audit.page({
        app: queryString(req.query.app, 'app'),
        limit: pageLimit(queryString(req.query.limit, 'limit')),
        cursor: queryString(req.query.cursor, 'cursor'),
      });
      return { status: 200, json: { events: page.items, next_cursor: page.nextCursor } };
    },
  },
];

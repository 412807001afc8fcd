import { z } from 'zod';
import { pageLimit } from '../../paging';
import { AuditEventSchema, PAGE_QUERY, pageOf } from './schemas';
import { queryParam, route, type Route } from './types';

export const auditRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/audit',
    auth: 'admin',
    tag: 'audit',
    summary: 'The audit trail, newest first',
    query: z.object({ app: queryParam('Only the events of this app.'), ...PAGE_QUERY }),
    responses: { 200: { description: 'A page of events.', schema: pageOf('events', AuditEventSchema) } },
    handle: async ({ services, query }) => {
      const page = await services.audit.page({ app: query.app, limit: pageLimit(query.limit), cursor: query.cursor });
      return { status: 200, json: { events: page.items, next_cursor: page.nextCursor } };
    },
  }),
];

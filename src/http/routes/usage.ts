import { pageLimit } from '../../paging';
import { usageDays } from '../../tokens/usage-report';
import { z } from 'zod';
import { PAGE_QUERY, TokenUsageSchema } from './schemas';
import { queryParam, route, type Route } from './types';

/**
 * A token's requests per UTC day: `{"token_id", "app", "days", "from", "to", "totals", "usage":
 * [{"day", "accepted", "refused": {code: n}, "refused_total"}], "next_cursor"}`, every day of the
 * window (zero days included), newest first; `?days=` (1–366, default 30) sets the window, and
 * `?limit=`/`?cursor=` page through its days like every list.
 */
export const usageRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/apps/:app/tokens/:id/usage',
    auth: 'admin',
    tag: 'tokens',
    summary: "A token's requests per UTC day",
    query: z.object({ days: queryParam('The window in days: 1–366, default 30.'), ...PAGE_QUERY }),
    responses: { 200: { description: 'A page of days and the window\'s totals.', schema: TokenUsageSchema }, 404: { description: 'No such app, or no such token in it.' } },
    handle: async ({ services, params, query }) => {
      await services.apps.require(params.app!);
      const usage = await services.usageReport.forToken(params.id!, {
        scope: { app: params.app! },
        days: usageDays(query.days),
        limit: pageLimit(query.limit),
        cursor: query.cursor,
      });
      return { status: 200, json: usage };
    },
  }),
];

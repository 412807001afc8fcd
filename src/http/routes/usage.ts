import { pageLimit } from '../../paging';
import { usageDays } from '../../tokens/usage-report';
import type { Route } from './types';
import { queryString } from './types';

/**
 * A token's requests per UTC day: `{"token_id", "app", "days", "from", "to", "totals", "usage":
 * [{"day", "accepted", "refused": {code: n}, "refused_total"}], "next_cursor"}`, every day of the
 * window (zero days included), newest first; `?days=` (1–366, default 30) sets the window, and
 * `?limit=`/`?cursor=` page through its days like every list.
 */
export const usageRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/apps/:app/tokens/:id/usage',
    auth: 'admin',
    handle: async ({ services, params, req }) => {
      await services.apps.require(params.app!);
      const usage = await services.usageReport.forToken(params.id!, {
        scope: { app: params.app! },
        days: usageDays(queryString(req.query.days, 'days')),
        limit: pageLimit(queryString(req.query.limit, 'limit')),
        cursor: queryString(req.query.cursor, 'cursor'),
      });
      return { status: 200, json: usage };
    },
  },
];

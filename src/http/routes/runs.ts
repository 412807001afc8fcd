import type { Request } from 'express';
import { AppError, invalidField } from '../../errors';
import type { RunFeed } from '../../runs/run';
import { answerRunStream } from '../run-stream';
import type { Route, RouteContext } from './types';
import { queryString } from './types';

/**
 * A run's own routes, for the trigger token that started it (`auth: 'token'`, served where the
 * trigger is). They sit in the route table rather than beside the framework-free trigger: they
 * are not a hot path (a status read, a cancel, a resume after a dropped connection), and the
 * table gives them the one authentication, the 405s, the access log and the metrics of every
 * other route. The trigger's own reconnect (a POST with Last-Event-ID) resumes through the same
 * stream code (run-stream.ts). Another token's run is 404 `run_not_found`, like an unknown one.
 */

const MAX_EVENT_ID = 1_000_000_000;

/** Where a reader resumes: `Last-Event-ID` (what an EventSource sends on reconnect) over `?after=`, else the start. */
function resumeAfter(req: Request): number {
  const header = req.headers['last-event-id'];
  if (header !== undefined) {
    const text = String(header).trim();
    if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_EVENT_ID) {
      throw new AppError('invalid_request', 'Last-Event-ID must be the id of an event this server sent (a whole number such as 5)');
    }
    return Number(text);
  }
  const after = queryString(req.query.after, 'after');
  if (after === undefined) return 0;
  if (!/^\d{1,10}$/.test(after.trim()) || Number(after) > MAX_EVENT_ID) throw invalidField('after', `must be an event id, a whole number from 0 (got "${after.slice(0, 20)}")`);
  return Number(after);
}

async function runOf(ctx: RouteContext): Promise<RunFeed> {
  const feed = await ctx.services.runs.find(ctx.params.id!, ctx.token!.id);
  if (feed === undefined) throw ctx.services.runs.notFound(ctx.params.id!);
  return feed;
}

export const runRoutes: Route[] = [
  {
    method: 'get',
    path: '/v1/runs/:id',
    auth: 'token',
    handle: async (ctx) => ({ status: 200, json: (await runOf(ctx)).view() }),
  },
  {
    method: 'get',
    path: '/v1/runs/:id/events',
    auth: 'token',
    handle: async (ctx) => {
      const after = resumeAfter(ctx.req);
      const feed = await runOf(ctx);
      const token = ctx.token!;
      return {
        status: 200,
        stream: (res) => {
          answerRunStream(res, feed, after, {}, { tokenId: token.id, expiresAt: token.expiresAt, registry: ctx.streams, retryMs: ctx.sseRetryMs });
        },
      };
    },
  },
  {
    method: 'post',
    path: '/v1/runs/:id/cancel',
    auth: 'token',
    handle: async (ctx) => ({ status: 200, json: await ctx.services.runs.cancel(ctx.params.id!, ctx.token!.id) }),
  },
];

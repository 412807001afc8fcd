import type { Request } from 'express';
import { AppError, invalidField } from '../../errors';
import type { RunFeed } from '../../runs/run';
import { answerRunStream } from '../run-stream';
import { z } from 'zod';
import { RunSchema } from './schemas';
import { queryParam, route, type Route, type RouteContext } from './types';

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
function resumeAfter(req: Request, after: string | undefined): number {
  const header = req.headers['last-event-id'];
  if (header !== undefined) {
    const text = String(header).trim();
    if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_EVENT_ID) {
      throw new AppError('invalid_request', 'Last-Event-ID must be the id of an event this server sent (a whole number such as 5)');
    }
    return Number(text);
  }
  if (after === undefined) return 0;
  if (!/^\d{1,10}$/.test(after.trim()) || Number(after) > MAX_EVENT_ID) throw invalidField('after', `must be an event id, a whole number from 0 (got "${after.slice(0, 20)}")`);
  return Number(after);
}

async function runOf(ctx: RouteContext): Promise<RunFeed> {
  const feed = await ctx.services.runs.find(ctx.params.id!, ctx.token!.id);
  if (feed === undefined) throw ctx.services.runs.notFound(ctx.params.id!);
  return feed;
}

const tag = 'runs';
const notFound = { description: 'No such run for this token (`run_not_found`): unknown, expired, or started by another token.' };
const runIdHeader = { 'Mechamental-Run-Id': 'The run (`run_…`).' };

/** A run's SSE stream (the trigger's too): what its events are. */
export const RUN_EVENTS_DOC =
  'Server-sent events: `retry:` first, then `run.started`, `message.delta` (`{"text"}`)…, and one of `run.completed` (`{"run_id","output"}`) or `run.failed` (`{"run_id","error":{"code","message"}}`); each event\'s `id:` is the run\'s sequence number, for `Last-Event-ID`. Comments (`: …`) keep the connection alive. See docs/runs.md.';

export const runRoutes: Route[] = [
  route({
    method: 'get',
    path: '/v1/runs/:id',
    auth: 'token',
    tag,
    summary: "A run's status (and its output or error once ended)",
    responses: { 200: { description: 'The run.', schema: RunSchema }, 404: notFound },
    handle: async (ctx) => ({ status: 200, json: (await runOf(ctx)).view() }),
  }),
  route({
    method: 'get',
    path: '/v1/runs/:id/events',
    auth: 'token',
    tag,
    summary: "A run's events as SSE: replayed after `Last-Event-ID` (or `?after=`), then live until it ends",
    query: z.object({ after: queryParam('Resume after this event id (a whole number); `Last-Event-ID` wins when both are sent.') }),
    headers: { 'Last-Event-ID': { description: 'Resume after this event id (what an EventSource sends when it reconnects).', schema: z.string().regex(/^\d{1,10}$/) } },
    responses: { 200: { description: RUN_EVENTS_DOC, contentType: 'text/event-stream', schema: z.string(), headers: runIdHeader }, 400: { description: 'Last-Event-ID is not an event id.' }, 404: notFound },
    handle: async (ctx) => {
      const after = resumeAfter(ctx.req, ctx.query.after);
      const feed = await runOf(ctx);
      const token = ctx.token!;
      return {
        status: 200,
        stream: (res) => {
          answerRunStream(res, feed, after, {}, { tokenId: token.id, expiresAt: token.expiresAt, registry: ctx.streams, retryMs: ctx.sseRetryMs });
        },
      };
    },
  }),
  route({
    method: 'post',
    path: '/v1/runs/:id/cancel',
    auth: 'token',
    tag,
    summary: 'Cancel a run (it ends with `run.failed` `cancelled`)',
    responses: { 200: { description: 'The run, as it is now.', schema: RunSchema }, 404: notFound },
    handle: async (ctx) => ({ status: 200, json: await ctx.services.runs.cancel(ctx.params.id!, ctx.token!.id) }),
  }),
];

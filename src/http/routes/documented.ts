import { z } from 'zod';
import { RUN_EVENTS_DOC } from './runs';
import { TriggerResultSchema } from './schemas';
import type { RouteDoc } from './types';

/**
 * The routes served outside the route table, declared for the OpenAPI document only: their
 * handlers validate on their own (the trigger's hot path reads its body in one pass, see
 * src/http/trigger/; the console's API lives in src/http/console/router.ts). A test checks that
 * the Express app has no route missing from the document, and that these stay declared.
 *
 * To add a framework-free route (the OpenAI front door's `GET /v1/models`, for one), append a
 * `RouteDoc` to `FRAMEWORK_FREE_ROUTES`: method, path, auth, tag, summary, body, responses.
 */

const runId = z.string().meta({ description: 'A run id (`run_…`).' });

export const TRIGGER_ROUTE_DOC: RouteDoc = {
  method: 'post',
  path: '/v1/trigger/:pipeline',
  auth: 'token',
  tag: 'trigger',
  summary: 'Run a pipeline: a JSON answer, or server-sent events with `Accept: text/event-stream` (q-values honoured)',
  description:
    'The body is the pipeline\'s input (the built-in `echo` kind reads `{"message"}`). Every trigger creates a run (`Mechamental-Run-Id`). A POST that carries `Last-Event-ID` is an EventSource reconnect, never a new run (docs/runs.md).',
  body: z.record(z.string(), z.unknown()).meta({ description: "The pipeline's input: a JSON object (at most MM_MAX_BODY bytes)." }),
  headers: {
    'Idempotency-Key': { description: 'Scoped to the token, kept 24 h: a retry with the same key and body gets the first answer again (`Idempotent-Replayed: true`).', schema: z.string().min(1).max(255) },
    'Mechamental-Run-Mode': { description: '`background`: the run goes on when the client disconnects, and can be resumed.', schema: z.enum(['background']) },
    'Last-Event-ID': { description: 'An EventSource reconnect: resume the run after this event id.', schema: z.string() },
    'Mechamental-Run-Id': { description: 'With Last-Event-ID: the run to resume.', schema: runId },
  },
  responses: {
    200: {
      description: `JSON: the run's output. SSE (\`Accept: text/event-stream\`): ${RUN_EVENTS_DOC}`,
      schema: TriggerResultSchema,
      alsoEventStream: true,
      headers: { 'Mechamental-Run-Id': 'The run (`run_…`).', 'Idempotent-Replayed': '`true` when this is the stored answer of an earlier request with the same Idempotency-Key.' },
    },
    204: { description: 'A reconnect after the run ended and all its events were delivered (tells an EventSource to stop).' },
    404: { description: 'No such pipeline for this token (`pipeline_not_found`).' },
    409: { description: 'A reconnect that names no run this token can resume (`run_not_found`), or the Idempotency-Key is in use by a request still running.' },
    413: { description: 'The body is larger than MM_MAX_BODY.' },
    422: { description: "The input does not suit the pipeline, or the Idempotency-Key was used with another body." },
    429: { description: "The token's rate limit, or too many runs at once.", headers: { 'Retry-After': 'Seconds to wait.' } },
    502: { description: 'The pipeline failed (`pipeline_failed`).' },
    504: { description: 'The pipeline took longer than its timeout (`pipeline_timeout`).' },
  },
};

const consoleSession = z.object({ session: z.record(z.string(), z.unknown()).nullable(), trigger_url: z.string() });

/** The web console's own API (its data comes from the admin API): sign-in, the session, live changes. */
export const CONSOLE_API_DOCS: RouteDoc[] = [
  {
    method: 'post',
    path: '/console/api/sign-in',
    auth: 'none',
    tag: 'console',
    summary: 'Sign the browser in: a one-time code from `mechamental console`, or an admin token',
    body: z.object({ code: z.string().optional(), token: z.string().optional() }).meta({ description: 'Exactly one of `code` and `token`.' }),
    responses: {
      200: { description: 'Signed in: the session cookie is set.', schema: consoleSession, headers: { 'Set-Cookie': 'The session cookie (HttpOnly, SameSite=Strict).' } },
      403: { description: 'A cross-origin request (`csrf_rejected`).' },
    },
  },
  {
    method: 'get',
    path: '/console/api/session',
    auth: 'admin',
    tag: 'console',
    summary: 'The console session (null without any credential)',
    responses: { 200: { description: 'The session and where the trigger is.', schema: consoleSession } },
  },
  {
    method: 'post',
    path: '/console/api/sign-out',
    auth: 'admin',
    tag: 'console',
    summary: 'End the console session',
    responses: { 204: { description: 'Signed out: the cookie is cleared.' } },
  },
  {
    method: 'get',
    path: '/console/api/changes',
    auth: 'admin',
    tag: 'console',
    summary: 'Live changes to apps, tokens and pipelines, as server-sent events',
    responses: { 200: { description: 'Server-sent events, one per change.', contentType: 'text/event-stream', schema: z.string() } },
  },
];

/** Every route served outside the route table, by the surface that serves it (`auth` decides, as in the table). */
export const FRAMEWORK_FREE_ROUTES: readonly RouteDoc[] = [TRIGGER_ROUTE_DOC, ...CONSOLE_API_DOCS];


import { z } from 'zod';
import { RUN_EVENTS_DOC } from './runs';
import { TriggerResultSchema } from './schemas';
import { ChatCompletionRequest, CHAT_COMPLETIONS_PATH, MODEL_ROUTE, MODELS_PATH } from '../openai/routes';
import type { ResponseDoc, RouteDoc } from './types';

/**
 * The routes served outside the route table, declared for the OpenAPI document only: their
 * handlers validate on their own (the trigger's hot path reads its body in one pass, see
 * src/http/trigger/; the console's API lives in src/http/console/router.ts). A test checks that
 * the Express app has no route missing from the document, and that these stay declared.
 *
 * To add a framework-free route, append a `RouteDoc` to `FRAMEWORK_FREE_ROUTES`: method, path,
 * auth, tag, summary, body, responses (the OpenAI front door's are below).
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

// --- The OpenAI-compatible front door (src/http/openai/, docs/openai.md): OpenAI's shapes, our statuses ---

/** OpenAI's error shape, which every answer of the front door uses instead of ours (its SDKs read it). */
const OpenAIError = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .meta({ description: 'OpenAI\'s error shape: `code` is the same code the trigger answers (`invalid_token`, `insufficient_scope`, `pipeline_not_found`…), `type` the class OpenAI uses for the status.' });

const openAIErrors = (extra: Record<number, string>): Record<number, ResponseDoc> => {
  const statuses: Record<number, string> = {
    401: 'No token, or one that is unknown, revoked or expired (with the RFC 6750 challenge), in OpenAI\'s error shape.',
    403: 'An admin token, a pipeline outside the token\'s scope (`insufficient_scope`), or a client address outside its `allowed_ips` (`ip_not_allowed`).',
    429: 'The token\'s rate limit, or too many runs at once, with Retry-After.',
    ...extra,
  };
  return Object.fromEntries(Object.entries(statuses).map(([status, description]) => [Number(status), { description, schema: OpenAIError }]));
};

const Model = z.object({ id: z.string().meta({ description: 'A pipeline slug.' }), object: z.literal('model'), created: z.number().int(), owned_by: z.string().meta({ description: 'The app slug.' }) });

export const OPENAI_ROUTE_DOCS: RouteDoc[] = [
  {
    method: 'get',
    path: MODELS_PATH,
    auth: 'token',
    tag: 'openai',
    summary: 'The pipelines this token may call, as OpenAI models',
    responses: { 200: { description: 'A list in OpenAI\'s shape.', schema: z.object({ object: z.literal('list'), data: z.array(Model) }) }, ...openAIErrors({}) },
  },
  {
    method: 'get',
    path: MODEL_ROUTE,
    auth: 'token',
    tag: 'openai',
    summary: 'One pipeline this token may call, as an OpenAI model',
    responses: { 200: { description: 'The model.', schema: Model }, ...openAIErrors({ 404: 'No such pipeline for this token (`pipeline_not_found`).' }) },
  },
  {
    method: 'post',
    path: CHAT_COMPLETIONS_PATH,
    auth: 'token',
    tag: 'openai',
    summary: 'Run the pipeline named by `model` with the chat messages: a `chat.completion`, or `chat.completion.chunk` events with `"stream": true`',
    description:
      'The pipeline\'s input is `{messages, message}` (`message`: the last user message\'s text). Sampling parameters are accepted and ignored; tools, `n` > 1, non-text `response_format`, logprobs, audio and image parts are refused with a 400 saying so (docs/openai.md). `Idempotency-Key` and `Mechamental-Run-Id` work as on the trigger.',
    body: ChatCompletionRequest,
    headers: { 'Idempotency-Key': { description: 'As on the trigger: scoped to the token, kept 24 h.', schema: z.string().min(1).max(255) } },
    responses: {
      200: {
        description: 'A `chat.completion` (its `id` is the run id); with `"stream": true`, server-sent `chat.completion.chunk` events ending with `data: [DONE]` (a revoke mid-stream sends an error chunk, then `[DONE]`).',
        schema: z.looseObject({ id: z.string(), object: z.literal('chat.completion'), created: z.number().int(), model: z.string(), choices: z.array(z.unknown()), usage: z.unknown() }),
        alsoEventStream: true,
        headers: { 'Mechamental-Run-Id': 'The run (`run_…`).' },
      },
      ...openAIErrors({
        400: 'Not a chat completion request, or a feature this door does not support (named in the message).',
        404: 'No such pipeline for this token (`pipeline_not_found`).',
        413: 'The body is larger than MM_MAX_BODY.',
        415: 'The body is not JSON.',
        502: 'The pipeline failed (`pipeline_failed`).',
        504: 'The pipeline took longer than its timeout.',
      }),
    },
  },
];

/** Every route served outside the route table, by the surface that serves it (`auth` decides, as in the table). */
export const FRAMEWORK_FREE_ROUTES: readonly RouteDoc[] = [TRIGGER_ROUTE_DOC, ...OPENAI_ROUTE_DOCS, ...CONSOLE_API_DOCS];


import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Services } from '../../services';
import type { RunFeed } from '../../runs/run';
import { EXPIRATION_HEADER } from '../auth';
import { answerHeldKey, type ResumeContext } from '../trigger/resume';
import type { Door, TriggerHandler, TriggerShared } from '../trigger/index';
import type { KeyState } from '../../runs/service';
import { openAIErrorBody } from './errors';
import { chunkRun, completionOfStored, completionRun, replayChunks, unixSeconds } from './completion';
import { answerModels } from './models';
import { CHAT_COMPLETIONS_PATH, MODEL_PATH_PREFIX, MODEL_ROUTE, MODELS_PATH, readChatCall } from './routes';

export { OPENAI_ROUTES, CHAT_COMPLETIONS_PATH, MODELS_PATH, MODEL_ROUTE, ChatCompletionRequest } from './routes';

/**
 * The OpenAI-compatible front door as a plain node:http handler beside the trigger's: answers
 * `/v1/chat/completions` and `/v1/models[/<model>]` and returns true, or returns false (having
 * touched nothing) for every other request.
 */
export type OpenAIHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

function notARun(): never {
  throw new Error('the models door starts no run');
}

/** The chat completions door: the trigger's phases (src/http/trigger/index.ts) with OpenAI's shapes. */
const CHAT_DOOR: Door = {
  route: CHAT_COMPLETIONS_PATH,
  errorBody: (code, message) => openAIErrorBody(code, message),
  readCall: readChatCall,
  answerRun(res, state, stream, sendJson, logRequest) {
    if (stream) chunkRun(res, state, logRequest);
    else completionRun(res, state, sendJson, logRequest);
  },
  answerHeld(ctx: ResumeContext, held: KeyState, fingerprint: string, stream: boolean) {
    const created = unixSeconds(held.row.createdAt);
    answerHeldKey(ctx, held, fingerprint, stream, {
      json: (status, body) => completionOfStored(status, body, created),
      stream: (context: ResumeContext, feed: RunFeed) =>
        replayChunks(context.res, feed, created, { [EXPIRATION_HEADER]: context.expiration }, {
          tokenId: context.tokenId,
          expiresAt: context.expiresAt,
          registry: context.streams,
          onClosed: (clientGone) => context.logRequest(clientGone ? 499 : 200, clientGone ? 'client_gone' : 'replayed'),
        }),
    });
  },
};

const MODELS_DOOR: Door = { route: MODELS_PATH, method: 'GET', errorBody: CHAT_DOOR.errorBody, readCall: notARun, answerRun: notARun, answerHeld: notARun };
const MODEL_DOOR: Door = { ...MODELS_DOOR, route: MODEL_ROUTE };
/** OpenAI's APIs this server does not serve (their refusals' log and metrics label). */
const UNSUPPORTED_DOOR: Door = { ...MODELS_DOOR, route: '/v1/:unsupported_openai_api', method: 'ANY' };

const CHAT_ALLOW = 'POST, OPTIONS';

/**
 * OpenAI's other APIs, under their first path segment: refused with a 400 that says so (an SDK
 * pointed here for embeddings must learn why, not meet a bare 404).
 */
const UNSUPPORTED_APIS = new Map<string, string>([
  ['embeddings', 'embeddings'],
  ['images', 'images'],
  ['audio', 'audio'],
  ['completions', 'legacy completions'],
  ['responses', 'the Responses API'],
  ['assistants', 'assistants'],
  ['threads', 'threads'],
  ['moderations', 'moderations'],
  ['files', 'files'],
  ['uploads', 'uploads'],
  ['batches', 'batches'],
  ['fine_tuning', 'fine-tuning'],
  ['vector_stores', 'vector stores'],
  ['realtime', 'the Realtime API'],
]);
const MODELS_ALLOW = 'GET, HEAD, OPTIONS';

/**
 * Builds the front door onto `trigger` (its slots, caches, stream registry and shutdown gate are
 * shared: runs per token count across both, and a shutdown closes both). Register it right after
 * the trigger handler.
 */
export function createOpenAIHandler(trigger: TriggerHandler, services: Services): OpenAIHandler {
  const chat = trigger.core.forDoor(CHAT_DOOR);
  const models = trigger.core.forDoor(MODELS_DOOR);
  const model = trigger.core.forDoor(MODEL_DOOR);
  const unsupported = trigger.core.forDoor(UNSUPPORTED_DOOR);

  const refuseMethod = (core: TriggerShared, req: IncomingMessage, res: ServerResponse, path: string, allow: string, started: number): void => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { Allow: allow });
      res.end();
      return core.logRequest(started, 204, null, null);
    }
    core.sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow.replace(/, OPTIONS$/, '')}`, { Allow: allow }, started, null, null);
  };

  return (req, res) => {
    const url = req.url;
    if (url === undefined || !url.startsWith('/v1/')) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let core: TriggerShared;
    let modelId: string | undefined;
    if (path === CHAT_COMPLETIONS_PATH) core = chat;
    else if (path === MODELS_PATH) core = models;
    else if (path.startsWith(MODEL_PATH_PREFIX) && path.length > MODEL_PATH_PREFIX.length) {
      core = model;
      modelId = decodeSegment(path.slice(MODEL_PATH_PREFIX.length));
    } else {
      const slash = path.indexOf('/', 4);
      const what = UNSUPPORTED_APIS.get(slash === -1 ? path.slice(4) : path.slice(4, slash));
      if (what === undefined) return false;
      unsupported.sendError(
        res,
        400,
        'invalid_request',
        `${what} ${what.endsWith('s') && !what.startsWith('the ') ? 'are' : 'is'} not supported: MechaMental's OpenAI-compatible API serves only POST /v1/chat/completions and GET /v1/models (a model is a pipeline)`,
        null,
        performance.now(),
        null,
        null,
      );
      return true;
    }
    const started = performance.now();
    if (core.gate.closing) {
      core.sendError(res, 503, 'shutting_down', 'the server is shutting down; retry shortly', { Connection: 'close' }, started, null, null);
      return true;
    }
    if (core === chat) {
      if (req.method === 'POST') chat.startRequest(req, res, url, started);
      else refuseMethod(chat, req, res, CHAT_COMPLETIONS_PATH, CHAT_ALLOW, started);
      return true;
    }
    if (req.method === 'GET' || req.method === 'HEAD') answerModels(core, services, req, res, url, started, modelId);
    else refuseMethod(core, req, res, modelId === undefined ? MODELS_PATH : MODEL_ROUTE, MODELS_ALLOW, started);
    return true;
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

import { z } from 'zod';
import { MESSAGE_REPEATS_LAST } from '../../pipelines/openai';
import type { RunInput } from '../../pipelines/index';
import { parseJsonObject } from '../json-body';
import type { DoorCall } from '../trigger/index';

/**
 * The OpenAI-compatible front door's routes (docs/openai.md), declared in one place for the
 * OpenAPI document: paths, methods and the request body's schema.
 */
export const CHAT_COMPLETIONS_PATH = '/v1/chat/completions';
export const MODELS_PATH = '/v1/models';
/** `GET /v1/models/{model}` (one model); the label used in logs and metrics. */
export const MODEL_PATH_PREFIX = '/v1/models/';
export const MODEL_ROUTE = '/v1/models/:model';

export const OPENAI_ROUTES = [
  { method: 'post', path: CHAT_COMPLETIONS_PATH, auth: 'token', summary: 'Runs the pipeline named by `model` with the chat messages (JSON or streamed chunks)' },
  { method: 'get', path: MODELS_PATH, auth: 'token', summary: 'The pipelines this token may call, as models' },
  { method: 'get', path: MODEL_ROUTE, auth: 'token', summary: 'One pipeline this token may call, as a model' },
] as const;

/** A part of a message's content: only text (images, audio and files are refused with a 400 saying so). */
export const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

export const ChatMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
});

/**
 * The body of `POST /v1/chat/completions`. Fields not named here are ignored; the sampling and
 * bookkeeping parameters named in IGNORED_PARAMETERS are accepted and ignored; the features in
 * `unsupported` below are refused (400) whenever they would change the answer.
 */
export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1, 'must name a pipeline (GET /v1/models lists them)'),
  messages: z.array(ChatMessage).min(1, 'must hold at least one message'),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.number().int().nullish(),
  tools: z.array(z.unknown()).nullish(),
  functions: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  function_call: z.unknown().optional(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().nullish(),
  modalities: z.array(z.string()).nullish(),
  audio: z.unknown().optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** Accepted and ignored (documented in docs/openai.md): they tune a model, and a pipeline is not one. */
export const IGNORED_PARAMETERS = [
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'seed',
  'stop',
  'user',
  'metadata',
  'store',
  'parallel_tool_calls',
  'service_tier',
  'reasoning_effort',
  'verbosity',
  'prediction',
  'safety_identifier',
  'prompt_cache_key',
] as const;

type Refusal = { ok: false; code: 'invalid_json' | 'invalid_request'; message: string };

function refuse(message: string): Refusal {
  return { ok: false, code: 'invalid_request', message };
}

/** Why a request asks for something this door does not do (undefined: nothing). */
function unsupported(body: ChatCompletionRequest): string | undefined {
  if ((body.tools?.length ?? 0) > 0 || (body.functions?.length ?? 0) > 0) {
    return 'tools and function calling are not supported: a model here is a MechaMental pipeline, which answers with text; send the request without "tools" and "functions"';
  }
  for (const name of ['tool_choice', 'function_call'] as const) {
    const choice = body[name];
    if (choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') return `${name} ${JSON.stringify(choice)} is not supported: there is no tool calling here; leave "${name}" out`;
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) return `n=${body.n} is not supported: a pipeline run gives one answer; send n=1 or leave it out`;
  if (body.response_format && body.response_format.type !== 'text') {
    return `response_format "${body.response_format.type}" is not supported: the answer is the pipeline's output as text; leave "response_format" out (a pipeline that answers JSON gives its JSON text)`;
  }
  if (body.logprobs === true || (body.top_logprobs ?? 0) > 0) return 'logprobs are not supported: a pipeline gives no token probabilities; leave "logprobs" and "top_logprobs" out';
  if ((body.modalities ?? []).some((m) => m !== 'text') || (body.audio !== undefined && body.audio !== null)) return 'audio output is not supported: only text; leave "modalities" and "audio" out';
  return undefined;
}

/** The text of a message's content (text parts joined), or why it cannot be read. */
function textOf(content: string | Array<{ type: string; text?: string | undefined }> | null | undefined, index: number): string | Refusal {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  let text = '';
  for (const part of content) {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      return refuse(`messages[${index}].content: "${part.type}" parts are not supported (no images, audio or files); send text only`);
    }
    text += part.text;
  }
  return text;
}

const ROLES: ReadonlySet<string> = new Set(ChatMessage.shape.role.options);
/** The fields of the request's schema that the plain shape below does not cover. */
const OTHER_FIELDS: ReadonlySet<string> = new Set(Object.keys(ChatCompletionRequest.shape).filter((k) => k !== 'model' && k !== 'messages' && k !== 'stream'));

/**
 * The request as almost every client sends it (a model, messages of a role and a text, perhaps
 * `stream` and parameters that are ignored), checked without the schema: what the schema would
 * answer for it, at a fraction of the cost on the hot path. Anything else (undefined) goes
 * through the schema, which also words the refusals.
 */
function plainRequest(value: Record<string, unknown>): ChatCompletionRequest | undefined {
  for (const key in value) if (OTHER_FIELDS.has(key)) return undefined;
  const { model, messages, stream } = value;
  if (typeof model !== 'string' || model === '' || !Array.isArray(messages) || messages.length === 0) return undefined;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return undefined;
  for (const message of messages as unknown[]) {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
    const { role, content, name } = message as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) return undefined;
    if (content !== undefined && content !== null && typeof content !== 'string') return undefined;
    if (name !== undefined && typeof name !== 'string') return undefined;
  }
  return value as ChatCompletionRequest;
}

/**
 * Reads a chat completion request into the pipeline's call: `model` is the pipeline, the input is
 * `{messages, message}` (`message`: the text of the last user message, absent when there is none),
 * `stream` chooses chunks. Refuses (400) a body that is not such a request, and every unsupported
 * feature, naming it.
 */
export function readChatCall(raw: Buffer): DoorCall | Refusal {
  const parsed = parseJsonObject(raw);
  if (!parsed.ok) return { ok: false, code: 'invalid_json', message: parsed.message };
  let body = plainRequest(parsed.value);
  if (body === undefined) {
    const checked = ChatCompletionRequest.safeParse(parsed.value);
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      const where = issue.path.length > 0 ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') : 'the body';
      return refuse(`${where}: ${issue.message}; send {"model": "<pipeline>", "messages": [{"role": "user", "content": "Hello"}]}`);
    }
    body = checked.data;
  }
  const why = unsupported(body);
  if (why !== undefined) return refuse(why);
  const input: RunInput = { messages: parsed.value.messages };
  const messages = body.messages;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role !== 'user') continue;
    const text = textOf(messages[i]!.content, i);
    if (typeof text !== 'string') return text;
    input.message = text;
    // Not serialised (a symbol): tells the openai kind that `message` is already in `messages`.
    Object.defineProperty(input, MESSAGE_REPEATS_LAST, { value: true });
    break;
  }
  // Other messages' parts are checked too: a pipeline reading `messages` must not meet an image unannounced.
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i]!.content;
    if (Array.isArray(content)) {
      const text = textOf(content, i);
      if (typeof text !== 'string') return text;
    }
  }
  return { ok: true, slug: body.model, input, stream: body.stream === true };
}

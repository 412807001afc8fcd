import { AppError } from '../errors';
import { redactSecrets, runFailure } from './failure';
import { mediaType, readEventStream } from './sse-reader';
import type { PipelineRunner, RunInput } from './types';
import { originOf, postJson, readCapped, readFailure, upstreamFailure, type Upstream } from './upstream';

/**
 * Marks an input whose `message` repeats the last user message of its `messages` (the
 * OpenAI-compatible door sets it, unserialised): the chat is then sent without it twice.
 */
export const MESSAGE_REPEATS_LAST: unique symbol = Symbol('message repeats the last user message');

interface ChatMessage {
  role: string;
  content: unknown;
}

/**
 * The chat messages for a run: the config's system prompt first, then `input.messages` as given,
 * then `input.message` as the user's. Messages with role `system` sent by the caller are dropped
 * unless `allowSystemMessages` (the config's `allow_system_messages`), so that a caller cannot
 * replace or contradict the operator's system prompt.
 */
export function chatMessages(systemPrompt: string | undefined, input: RunInput, allowSystemMessages = false): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
  if (input.messages !== undefined) {
    if (!Array.isArray(input.messages)) {
      throw new AppError('validation_failed', 'messages: must be an array of chat messages such as [{"role": "user", "content": "Hello"}]', { field: 'messages' });
    }
    for (const [index, message] of (input.messages as unknown[]).entries()) {
      if (typeof message !== 'object' || message === null || typeof (message as { role?: unknown }).role !== 'string') {
        throw new AppError('validation_failed', `messages[${index}]: must be a chat message such as {"role": "user", "content": "Hello"}`, { field: 'messages' });
      }
      if (!allowSystemMessages && (message as ChatMessage).role === 'system') continue;
      messages.push(message as ChatMessage);
    }
  }
  // The OpenAI-compatible door passes the last user message as `message` too (SPEC): already in `messages`.
  if (input.message !== undefined && !(MESSAGE_REPEATS_LAST in input)) {
    if (typeof input.message !== 'string') throw new AppError('validation_failed', 'message: must be a string', { field: 'message' });
    messages.push({ role: 'user', content: input.message });
  }
  if (messages.length === 0 || messages.every((m) => m.role === 'system')) {
    throw new AppError('validation_failed', 'message: the request body needs "message" (a string) or "messages" (chat messages other than "system" ones)', { field: 'message' });
  }
  return messages;
}

interface ChunkShape {
  choices?: Array<{ delta?: { content?: unknown }; message?: { content?: unknown } }>;
  error?: { message?: unknown };
}

/**
 * `openai`: streams an OpenAI-compatible `POST {base_url}/chat/completions` with `stream: true`
 * (Ollama, llama.cpp server, vLLM). Deltas are `choices[0].delta.content`; `data: [DONE]` ends the
 * stream; the output is the whole text. The API key is read from the environment variable named
 * by `api_key_env` at run time (never stored, never quoted in errors: redacted from any upstream
 * text a failure detail quotes). Caller `system` messages are dropped unless `allow_system_messages`.
 * Redirects only within `base_url`'s origin; at most MAX_UPSTREAM_BYTES of the answer are read.
 */
export const openaiRunner: PipelineRunner<'openai'> = {
  kind: 'openai',
  defaultTimeoutMs: 300_000,
  async run(config, input, ctx) {
    const { signal } = ctx;
    const messages = chatMessages(config.system_prompt, input, config.allow_system_messages === true);
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const url = `${config.base_url.replace(/\/+$/, '')}/chat/completions`;
    const upstream: Upstream = { url, secrets: [] };
    if (config.api_key_env) {
      const key = process.env[config.api_key_env];
      if (!key) throw runFailure(`the environment variable ${config.api_key_env} (api_key_env) is not set in the server's environment`);
      headers.authorization = `Bearer ${key}`;
      upstream.secrets.push(key);
    }
    const origin = originOf(url);
    const response = await postJson(upstream, { model: config.model, messages, stream: true }, headers, signal);
    if (!response.ok) throw await upstreamFailure(response, upstream, signal);
    if (mediaType(response.headers.get('content-type')) !== 'text/event-stream') {
      // A server that ignores `stream: true` answers one completion.
      const bytes = await readCapped(response, upstream, signal);
      let body: ChunkShape;
      try {
        body = JSON.parse(bytes.toString('utf8')) as ChunkShape;
      } catch {
        throw runFailure(`the upstream ${origin} answered invalid JSON`);
      }
      const content = body?.choices?.[0]?.message?.content;
      if (typeof content !== 'string') throw runFailure(`the upstream ${origin} answered without choices[0].message.content`);
      if (content) ctx.onDelta(content);
      return content;
    }
    let text = '';
    if (!response.body) return text;
    try {
      await readEventStream(
        response.body,
        (event) => {
          if (event.data.trim() === '[DONE]') return false;
          let chunk: ChunkShape;
          try {
            chunk = JSON.parse(event.data) as ChunkShape;
          } catch {
            throw runFailure(`the upstream ${origin} sent an event that is not JSON`);
          }
          if (chunk?.error) {
            const reported = typeof chunk.error.message === 'string' ? redactSecrets(chunk.error.message.slice(0, 500), upstream.secrets) : 'an error';
            throw runFailure(`the upstream ${origin} reported: ${reported}`);
          }
          const content = chunk?.choices?.[0]?.delta?.content;
          if (typeof content === 'string' && content !== '') {
            text += content;
            ctx.onDelta(content);
          }
          return true;
        },
        { origin },
      );
    } catch (error) {
      throw readFailure(error, upstream, signal);
    }
    return text;
  },
};

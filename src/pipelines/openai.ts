import { AppError } from '../errors';
import { mediaType, readEventStream } from './sse-reader';
import type { PipelineRunner, RunInput } from './types';
import { originOf, postJson, readFailure, upstreamFailure } from './upstream';

interface ChatMessage {
  role: string;
  content: unknown;
}

/** The chat messages for a run: the system prompt, then `input.messages` as given, then `input.message` as the user's. */
export function chatMessages(systemPrompt: string | undefined, input: RunInput): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
  if (input.messages !== undefined) {
    if (!Array.isArray(input.messages)) {
      throw new AppError('validation_failed', 'messages: must be an array of chat messages such as [{"role": "user", "content": "Hello"}]', { field: 'messages' });
    }
    messages.push(...(input.messages as ChatMessage[]));
  }
  if (input.message !== undefined) {
    if (typeof input.message !== 'string') throw new AppError('validation_failed', 'message: must be a string', { field: 'message' });
    messages.push({ role: 'user', content: input.message });
  }
  if (messages.length === 0 || messages.every((m) => m.role === 'system')) {
    throw new AppError('validation_failed', 'message: the request body needs "message" (a string) or "messages" (chat messages)', { field: 'message' });
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
 * by `api_key_env` at run time (never stored, never quoted in errors).
 */
export const openaiRunner: PipelineRunner<'openai'> = {
  kind: 'openai',
  defaultTimeoutMs: 300_000,
  async run(config, input, ctx) {
    const { signal } = ctx;
    const messages = chatMessages(config.system_prompt, input);
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (config.api_key_env) {
      const key = process.env[config.api_key_env];
      if (!key) throw new AppError('pipeline_failed', `the environment variable ${config.api_key_env} (api_key_env) is not set in the server's environment`);
      headers.authorization = `Bearer ${key}`;
    }
    const url = `${config.base_url.replace(/\/+$/, '')}/chat/completions`;
    const response = await postJson(url, { model: config.model, messages, stream: true }, headers, signal);
    if (!response.ok) throw await upstreamFailure(response, url, signal);
    try {
      if (mediaType(response.headers.get('content-type')) !== 'text/event-stream') {
        // A server that ignores `stream: true` answers one completion.
        const body = (await response.json()) as ChunkShape;
        const content = body.choices?.[0]?.message?.content;
        if (typeof content !== 'string') throw new AppError('pipeline_failed', `the upstream ${originOf(url)} answered without choices[0].message.content`);
        if (content) ctx.onDelta(content);
        return content;
      }
      let text = '';
      if (response.body) {
        await readEventStream(response.body, (event) => {
          if (event.data.trim() === '[DONE]') return false;
          let chunk: ChunkShape;
          try {
            chunk = JSON.parse(event.data) as ChunkShape;
          } catch {
            throw new AppError('pipeline_failed', `the upstream ${originOf(url)} sent an event that is not JSON`);
          }
          if (chunk.error) {
            throw new AppError('pipeline_failed', `the upstream ${originOf(url)} reported: ${typeof chunk.error.message === 'string' ? chunk.error.message : 'an error'}`);
          }
          const content = chunk.choices?.[0]?.delta?.content;
          if (typeof content === 'string' && content !== '') {
            text += content;
            ctx.onDelta(content);
          }
          return true;
        });
      }
      return text;
    } catch (error) {
      throw readFailure(error, url, signal);
    }
  },
};

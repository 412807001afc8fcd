import { AppError } from '../errors';
import { mediaType, readEventStream } from './sse-reader';
import type { PipelineRunner } from './types';
import { originOf, postJson, readFailure, upstreamFailure } from './upstream';

/** The text a relayed upstream event contributes: `{"text": …}`, a JSON string, or the raw data. */
function deltaText(data: string): string {
  try {
    const parsed = JSON.parse(data) as unknown;
    if (typeof parsed === 'string') return parsed;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { text?: unknown }).text === 'string') return (parsed as { text: string }).text;
  } catch {
    // not JSON: relay as is
  }
  return data;
}

/**
 * `http`: POSTs the input JSON to `url` (with `headers`). A JSON answer is the output; an
 * upstream `text/event-stream` answer is relayed as deltas (each event's `text`, or its data) and
 * the output is their concatenated text; any other 2xx answer's text is the output. Abort cancels
 * the upstream request.
 */
export const httpRunner: PipelineRunner<'http'> = {
  kind: 'http',
  defaultTimeoutMs: 300_000,
  async run(config, input, ctx) {
    const { signal } = ctx;
    const response = await postJson(config.url, input, { accept: 'application/json, text/event-stream', ...config.headers }, signal);
    if (!response.ok) throw await upstreamFailure(response, config.url, signal);
    const type = mediaType(response.headers.get('content-type'));
    try {
      if (type === 'text/event-stream') {
        if (!response.body) return '';
        let text = '';
        await readEventStream(response.body, (event) => {
          const delta = deltaText(event.data);
          text += delta;
          ctx.onDelta(delta);
        });
        return text;
      }
      const body = await response.text();
      if (type === 'application/json' || type.endsWith('+json')) {
        try {
          return JSON.parse(body) as unknown;
        } catch {
          throw new AppError('pipeline_failed', `the upstream ${originOf(config.url)} answered invalid JSON`);
        }
      }
      return body;
    } catch (error) {
      throw readFailure(error, config.url, signal);
    }
  },
};

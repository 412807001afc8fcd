import { runFailure } from './failure';
import { mediaType, readEventStream } from './sse-reader';
import type { PipelineRunner } from './types';
import { headerSecrets, originOf, postJson, readCapped, readFailure, upstreamFailure, type Upstream } from './upstream';

/** The text a relayed upstream event contributes: `{"text": …}`, a JSON string, or the raw data. */
function deltaText(data: string): string {
  // Only an object or a string can be either; anything else is relayed as is without a JSON.parse
  // that would throw (an exception per event is slow on a stream of many small raw events).
  const first = data.trimStart().charCodeAt(0);
  if (first !== 0x7b /* { */ && first !== 0x22 /* " */) return data;
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
 *
 * Hardening: redirects are followed only within the URL's origin (the configured headers never go
 * anywhere else); at most MAX_UPSTREAM_BYTES of the answer are read; failures carry the upstream's
 * status and body only as the internal detail (configured header values redacted).
 */
export const httpRunner: PipelineRunner<'http'> = {
  kind: 'http',
  defaultTimeoutMs: 300_000,
  async run(config, input, ctx) {
    const { signal } = ctx;
    const upstream: Upstream = { url: config.url, secrets: headerSecrets(config.headers) };
    const response = await postJson(upstream, input, { accept: 'application/json, text/event-stream', ...config.headers }, signal);
    if (!response.ok) throw await upstreamFailure(response, upstream, signal);
    const type = mediaType(response.headers.get('content-type'));
    if (type === 'text/event-stream') {
      if (!response.body) return '';
      let text = '';
      try {
        await readEventStream(
          response.body,
          (event) => {
            const delta = deltaText(event.data);
            text += delta;
            ctx.onDelta(delta);
          },
          { origin: originOf(config.url) },
        );
      } catch (error) {
        throw readFailure(error, upstream, signal);
      }
      return text;
    }
    const body = (await readCapped(response, upstream, signal)).toString('utf8');
    if (type === 'application/json' || type.endsWith('+json')) {
      try {
        return JSON.parse(body) as unknown;
      } catch {
        throw runFailure(`the upstream ${originOf(config.url)} answered invalid JSON`);
      }
    }
    return body;
  },
};

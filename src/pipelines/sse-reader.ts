/** One server-sent event as read from an upstream. */
export interface UpstreamEvent {
  event: string;
  data: string;
}

/**
 * Reads a `text/event-stream` body (WHATWG rules: CR, LF or CRLF line ends; `data:` lines joined
 * with LF; comments ignored) and calls `onEvent` for each dispatched event. Stops early when
 * `onEvent` returns `false`.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (event: UpstreamEvent) => boolean | void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const reader = body.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      ended = done;
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let lineEnd: number;
      while ((lineEnd = buffer.search(/\r\n|\r|\n/)) !== -1) {
        // A lone CR at the end of the buffer may be the first half of CRLF: wait for more.
        if (buffer[lineEnd] === '\r' && lineEnd === buffer.length - 1 && !done) break;
        const line = buffer.slice(0, lineEnd);
        buffer = buffer.slice(lineEnd + (buffer.startsWith('\r\n', lineEnd) ? 2 : 1));
        if (line === '') {
          if (data.length > 0 && onEvent({ event: event || 'message', data: data.join('\n') }) === false) return;
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'data') data.push(fieldValue);
        else if (field === 'event') event = fieldValue;
      }
      if (done) {
        if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n') });
        return;
      }
    }
  } finally {
    // Stopped early (by `onEvent` or an error): cancel the upstream body rather than leave it open.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(contentType: string | null | undefined): string {
  if (!contentType) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

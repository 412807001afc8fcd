import { runFailure } from './failure';
import { MAX_UPSTREAM_BYTES } from './upstream';

/** One server-sent event as read from an upstream. */
export interface UpstreamEvent {
  event: string;
  data: string;
}

/** Limits of one upstream event stream; both default to MAX_UPSTREAM_BYTES. */
export interface EventStreamLimits {
  /** The most bytes read from the stream in all. */
  maxBytes?: number;
  /** The most characters one line may have (a stream without line ends is one long line). */
  maxLineChars?: number;
  /** The upstream's origin, for failure details. */
  origin?: string;
}

const LF = 10;
const CR = 13;

/**
 * Reads a `text/event-stream` body (WHATWG rules: CR, LF or CRLF line ends; `data:` lines joined
 * with LF; comments ignored) and calls `onEvent` for each dispatched event. Stops early when
 * `onEvent` returns `false`.
 *
 * Runs in time linear in the stream's length: each decoded chunk is searched once, forward from
 * where the last line ended, and a line still incomplete at a chunk's end is kept as pieces that are
 * joined once when its end arrives (never searched again). Bounded: more than `maxBytes` in all, or a line
 * longer than `maxLineChars`, fails the run with `pipeline_failed` and cancels the stream.
 */
export async function readEventStream(body: ReadableStream<Uint8Array>, onEvent: (event: UpstreamEvent) => boolean | void, limits: EventStreamLimits = {}): Promise<void> {
  const maxBytes = limits.maxBytes ?? MAX_UPSTREAM_BYTES;
  const maxLineChars = limits.maxLineChars ?? MAX_UPSTREAM_BYTES;
  const from = limits.origin ? ` from ${limits.origin}` : '';
  const decoder = new TextDecoder();
  /** The start of the current line, when it began in an earlier chunk. */
  let pending: string[] = [];
  let pendingChars = 0;
  /** The last chunk ended with CR: a LF at the start of the next one belongs to that line end. */
  let afterCr = false;
  let event = '';
  let data: string[] = [];
  let bytes = 0;
  let stopped = false;

  const onLine = (line: string): void => {
    if (line === '') {
      if (data.length > 0 && onEvent({ event: event || 'message', data: data.length === 1 ? data[0]! : data.join('\n') }) === false) stopped = true;
      event = '';
      data = [];
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let fieldValue = colon === -1 ? '' : line.slice(colon + 1);
    if (fieldValue.charCodeAt(0) === 32 /* ' ' */) fieldValue = fieldValue.slice(1);
    if (field === 'data') data.push(fieldValue);
    else if (field === 'event') event = fieldValue;
  };

  const onText = (text: string): void => {
    // An empty piece (an empty chunk, or only part of a multi-byte character) changes nothing; in
    // particular a CR before it still pairs with a LF after it.
    if (text === '') return;
    let start = 0;
    if (afterCr && text.charCodeAt(0) === LF) start = 1;
    afterCr = false;
    // The next LF and CR at or after `start`, each found by a native search that never looks back.
    let nextLf = text.indexOf('\n', start);
    let nextCr = text.indexOf('\r', start);
    while (!stopped && (nextLf !== -1 || nextCr !== -1)) {
      const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      let line = text.slice(start, end);
      if (pending.length > 0) {
        pending.push(line);
        line = pending.join('');
        pending = [];
        pendingChars = 0;
      }
      if (line.length > maxLineChars) throw lineTooLong();
      start = end + 1;
      if (end === nextCr) {
        if (start === text.length) afterCr = true;
        else if (text.charCodeAt(start) === LF) start++;
      }
      if (nextLf !== -1 && nextLf < start) nextLf = text.indexOf('\n', start);
      if (nextCr !== -1 && nextCr < start) nextCr = text.indexOf('\r', start);
      onLine(line);
    }
    if (stopped || start >= text.length) return;
    const rest = start === 0 ? text : text.slice(start);
    pendingChars += rest.length;
    if (pendingChars > maxLineChars) throw lineTooLong();
    pending.push(rest);
  };
  const lineTooLong = () => runFailure(`the event stream${from} has a line longer than ${maxLineChars} characters`);

  const reader = body.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        onText(decoder.decode());
        if (stopped) return;
        // The stream ended: a last line without its end, then a last event without its blank line.
        if (pending.length > 0) {
          const line = pending.join('');
          pending = [];
          onLine(line);
          if (stopped) return;
        }
        if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n') });
        return;
      }
      bytes += value.byteLength;
      if (bytes > maxBytes) throw runFailure(`the event stream${from} is longer than ${maxBytes} bytes, the most an upstream answer may have`);
      onText(decoder.decode(value, { stream: true }));
      if (stopped) return;
    }
  } finally {
    // Stopped early (by `onEvent`, a limit or an error): cancel the upstream body rather than leave it open.
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

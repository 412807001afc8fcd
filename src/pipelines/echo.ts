import { AppError } from '../errors';
import { sleep, throwIfAborted } from './abort';
import type { PipelineRunner } from './types';

/**
 * `echo`: streams `input.message` back word by word (each delta a word with its trailing space, so
 * the deltas add up to the text), waiting `delay_ms` between words; the output is the whole text.
 * Whitespace is what `\s` matches in a JavaScript regular expression; leading whitespace is a delta
 * of its own.
 */
export const echoRunner: PipelineRunner<'echo'> = {
  kind: 'echo',
  defaultTimeoutMs: undefined,
  run(config, input, ctx) {
    const message = input.message;
    if (typeof message !== 'string') {
      throw new AppError('validation_failed', 'message: the echo pipeline needs a "message" string in the request body, e.g. {"message": "Hello"}', { field: 'message' });
    }
    const delay = config.delay_ms ?? 0;
    if (delay === 0) {
      // Nothing to wait for: answer synchronously (the hot path of the demo pipeline).
      for (let at = 0; at < message.length; ) {
        const end = pieceEnd(message, at);
        ctx.onDelta(message.slice(at, end));
        at = end;
      }
      return message;
    }
    return (async () => {
      for (let at = 0, words = 0; at < message.length; ) {
        // A wait before every word but the first; none before leading whitespace.
        if (!isSpace(message.charCodeAt(at)) && words++ > 0) await sleep(delay, ctx.signal);
        throwIfAborted(ctx.signal);
        const end = pieceEnd(message, at);
        ctx.onDelta(message.slice(at, end));
        at = end;
      }
      return message;
    })();
  },
};

/**
 * Where the delta that starts at `at` ends: the non-whitespace there, then the whitespace after it
 * (`\S*\s*`; so leading whitespace, at 0, is a delta of its own, and every later delta is a word
 * and its trailing whitespace, as `\S+\s*` would match it), without a match object per word: this
 * runs on every trigger of the demo pipeline.
 */
function pieceEnd(text: string, at: number): number {
  let i = at;
  while (i < text.length && !isSpace(text.charCodeAt(i))) i++;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Whether a UTF-16 code unit is what `\s` matches: ECMAScript's WhiteSpace and LineTerminator. */
export function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

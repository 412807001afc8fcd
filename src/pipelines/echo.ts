import { AppError } from '../errors';
import { sleep, throwIfAborted } from './abort';
import type { PipelineRunner } from './types';

const WORD = /\S+\s*/g;

/**
 * `echo`: streams `input.message` back word by word (each delta a word with its trailing space, so
 * the deltas add up to the text), waiting `delay_ms` between words; the output is the whole text.
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
    const leading = /^\s*/.exec(message)![0];
    if (leading) ctx.onDelta(leading);
    if (delay === 0) {
      // Nothing to wait for: answer synchronously (the hot path of the demo pipeline).
      for (const match of message.matchAll(WORD)) ctx.onDelta(match[0]);
      return message;
    }
    return (async () => {
      let first = true;
      for (const match of message.matchAll(WORD)) {
        if (!first) await sleep(delay, ctx.signal);
        throwIfAborted(ctx.signal);
        ctx.onDelta(match[0]);
        first = false;
      }
      return message;
    })();
  },
};

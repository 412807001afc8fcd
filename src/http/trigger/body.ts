import type { IncomingMessage } from 'node:http';
import { currentTurn } from './turn';

export type BodyOutcome = Buffer | 'too_large' | 'aborted';

/**
 * Reads a request body up to `limit` bytes and calls `done` once: with the body, 'too_large' beyond
 * the limit (reading stops), or 'aborted' if the client went away. A callback, not a promise: no
 * microtask hop between the last chunk and the run on the hot path. `endTurn` is the event-loop
 * turn in which the body was complete (see turn.ts).
 */
export class BodyReader {
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private settled = false;
  endTurn = -1;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly done: (body: BodyOutcome) => void,
    /** Record `endTurn` (false only when the trigger's re-check is off, see TriggerOptions.recheck). */
    private readonly trackTurn = true,
  ) {
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
    req.on('close', this.onError);
  }

  private settle(value: BodyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.trackTurn) this.endTurn = currentTurn();
    this.req.removeListener('data', this.onData);
    this.req.removeListener('end', this.onEnd);
    this.req.removeListener('error', this.onError);
    this.req.removeListener('close', this.onError);
    this.done(value);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.req.pause();
      return this.settle('too_large');
    }
    if (this.first === undefined) this.first = chunk;
    else (this.chunks ??= [this.first]).push(chunk);
  };

  private readonly onEnd = (): void => {
    this.settle(this.chunks ? Buffer.concat(this.chunks, this.size) : (this.first ?? Buffer.alloc(0)));
  };

  private readonly onError = (): void => {
    this.settle('aborted');
  };
}

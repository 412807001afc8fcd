import type { ServerResponse } from 'node:http';
import { isTerminal, Run, RUN_FAILED, type RunFeed, type RunListener } from '../runs/run';
import { retryField, SSE_HEADERS, sseFrame } from './sse';
import type { OpenStream, StreamEnd, StreamRegistry } from './streams';

/** The header that names the run on every answer that started, resumed or replayed one. */
export const RUN_ID_HEADER = 'Mechamental-Run-Id';
/** On an answer given again for an idempotency key (SPEC: Stripe's semantics). */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

export const CLIENT_GONE_MESSAGE =
  'the client went away, so the run was stopped; send "Mechamental-Run-Mode: background" to keep a run going without its client';

const NOOP = (): void => {};

export interface RunStreamOptions {
  /** The token that reads it (the one that started the run): the registry ends the stream when it stops working. */
  tokenId: string;
  expiresAt: number;
  registry: StreamRegistry;
  /** The `retry:` sent first (ms). */
  retryMs: number;
  /** The run's own request in the foreground: its client leaving stops the run (`client_gone`). */
  stopsRunOnClose: boolean;
  /** Once, when the stream ends: `clientGone` when the client left before the run's end was written. */
  onClosed?: (clientGone: boolean) => void;
}

/**
 * An SSE answer that follows a run: `retry:`, then the run's events after a given one (ids are
 * the run's sequence numbers, so a reconnect's `Last-Event-ID` says exactly what is missing),
 * live until its terminal event, then the end. The trigger's own stream is one (from event 0), and
 * so is every resume. Registered with the stream registry while open: when the token is revoked or
 * expires, a run of this process is stopped with that code (which ends every stream of it); a
 * stream of a finished run or of another instance's run gets a last `run.failed` (without an id,
 * as it is not one of the run's events) and ends.
 */
export class RunStream implements OpenStream, RunListener {
  readonly tokenId: string;
  expiresAt: number;
  private finished = false;
  private sawTerminal = false;
  private corked = false;
  private unsubscribe: () => void = NOOP;

  constructor(
    private readonly res: ServerResponse,
    private readonly feed: RunFeed,
    private readonly options: RunStreamOptions,
  ) {
    this.tokenId = options.tokenId;
    this.expiresAt = options.expiresAt;
  }

  /** Starts the stream (its headers are written already) with the events after `after`. */
  open(after: number): void {
    const res = this.res;
    res.once('close', this.onClose);
    this.options.registry.add(this);
    // The replay goes out in as few packets as possible.
    res.cork();
    this.corked = true;
    res.write(retryField(this.options.retryMs));
    this.unsubscribe = this.feed.subscribe(after, this);
    this.uncork();
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.res.uncork();
  }

  event(seq: number, name: string, data: string): void {
    if (this.finished || this.res.destroyed) return;
    this.res.write(sseFrame(seq, name, data));
    if (isTerminal(name)) this.sawTerminal = true;
  }

  end(): void {
    this.close(false);
  }

  fail(code: StreamEnd, message: string): void {
    if (this.finished) return;
    const feed = this.feed;
    // Its terminal event reaches every stream of the run, this one included, and ends them.
    if (feed instanceof Run && feed.status === 'running') return feed.stop(code, message);
    if (!this.sawTerminal && !this.res.destroyed) this.res.write(`event: ${RUN_FAILED}\ndata: ${JSON.stringify({ run_id: feed.id, error: { code, message } })}\n\n`);
    this.close(false);
  }

  ping(): void {
    if (!this.finished && !this.res.destroyed) this.res.write(': ping\n\n');
  }

  private close(clientGone: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.unsubscribe();
    this.options.registry.delete(this);
    this.res.removeListener('close', this.onClose);
    this.uncork();
    if (!clientGone) this.res.end();
    this.options.onClosed?.(clientGone);
  }

  private readonly onClose = (): void => {
    if (this.finished) return;
    this.close(true);
    const feed = this.feed;
    if (this.options.stopsRunOnClose && feed instanceof Run) feed.stop('client_gone', CLIENT_GONE_MESSAGE);
  };
}

/**
 * Answers a reader of `feed` who has every event up to `after`: 204 when the run has ended and
 * nothing is missing (which tells an EventSource to stop reconnecting), else 200 and a RunStream
 * from `after` (never stopping the run when the reader leaves). `headers` go on either answer.
 */
export function answerRunStream(res: ServerResponse, feed: RunFeed, after: number, headers: Record<string, string>, options: Omit<RunStreamOptions, 'stopsRunOnClose'>): 204 | 200 {
  if (feed.status !== 'running' && after >= feed.lastSeq) {
    res.writeHead(204, { ...headers, [RUN_ID_HEADER]: feed.id });
    res.end();
    return 204;
  }
  res.writeHead(200, { ...SSE_HEADERS, ...headers, [RUN_ID_HEADER]: feed.id });
  new RunStream(res, feed, { ...options, stopsRunOnClose: false }).open(after);
  return 200;
}

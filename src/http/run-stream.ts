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

/** SSE_HEADERS as a flat name/value list. */
const SSE_HEADER_LIST: readonly string[] = Object.entries(SSE_HEADERS).flat();

/**
 * Writes a stream's 200 and its headers: the SSE headers, the run's id and `headers`; with
 * `Content-Length` a whole stream, without it chunked. A flat name/value list, as the JSON answers
 * write theirs: no header object to build and walk.
 */
export function writeStreamHead(res: ServerResponse, runId: string, headers: Readonly<Record<string, string>>, contentLength?: number): void {
  const list = [...SSE_HEADER_LIST, RUN_ID_HEADER, runId];
  for (const name in headers) list.push(name, headers[name]!);
  if (contentLength !== undefined) list.push('Content-Length', String(contentLength));
  res.writeHead(200, list);
}

/** What every stream that follows a run is told (the trigger's SSE, OpenAI's chunks). */
export interface FeedStreamOptions {
  /** The answer's own headers (the token's expiry, `Idempotent-Replayed`): the stream adds the SSE headers and the run's id. */
  headers: Readonly<Record<string, string>>;
  /** The token that reads it (the one that started the run): the registry ends the stream when it stops working. */
  tokenId: string;
  expiresAt: number;
  registry: StreamRegistry;
  /** The run's own request in the foreground: its client leaving stops the run (`client_gone`). */
  stopsRunOnClose: boolean;
  /** Once, when the stream ends: `clientGone` when the client left before the run's end was written. */
  onClosed?: (clientGone: boolean) => void;
}

export interface RunStreamOptions extends FeedStreamOptions {
  /** The `retry:` sent first (ms). */
  retryMs: number;
}

/**
 * A 200 answer that follows a run, whatever its wire format: registered with the stream registry
 * while open (when the token is revoked or expires, a run of this process is stopped with that
 * code, which ends every stream of it; a stream of a finished run or of another instance's run
 * gets its format's last failure and ends), the replay written corked, and a client leaving a
 * foreground run stops it. A subclass turns the run's events into its format.
 *
 * A stream its replay already ended (a run that answered at once, or one replayed whole) is sent
 * as one body with a `Content-Length`, like a JSON answer: the whole stream is known, so it needs
 * no chunked framing, and it goes out in one write with its headers. Every SSE client reads it the
 * same (an EventSource or an SDK reads events until the body ends, however it is framed).
 */
export abstract class FeedStream implements OpenStream, RunListener {
  readonly tokenId: string;
  expiresAt: number;
  protected finished = false;
  private corked = false;
  /** Text gathered during the replay in `start` (null: written at once). */
  private pending: string | null = null;
  /** In the stream registry, and listening for the client to leave. */
  private registered = false;
  /** The headers were written (by `flush` or `close`). */
  private headWritten = false;
  private unsubscribe: () => void = NOOP;

  constructor(
    protected readonly res: ServerResponse,
    protected readonly feed: RunFeed,
    private readonly options: FeedStreamOptions,
  ) {
    this.tokenId = options.tokenId;
    this.expiresAt = options.expiresAt;
  }

  abstract event(seq: number, name: string, data: string): void;

  /** What a failed stream writes last when the run cannot say it (empty: nothing). */
  protected abstract failure(code: StreamEnd, message: string): string;

  /** Written before the replay (e.g. `retry:`). */
  protected prologue(): void {}

  /** Written after the replay of a stream that goes on (what the format held back while the replay was gathered). */
  protected replayEnded(): void {}

  /** The events being read are the replay (gathered into one write), not live ones. */
  protected get replaying(): boolean {
    return this.pending !== null;
  }

  /**
   * Writes text of the stream. During the replay the text is gathered and goes out as one chunk:
   * each `res.write` of a chunked answer is three pieces of the socket write (size, text, CRLF), and
   * a run that answered at once would otherwise go out as some twenty.
   */
  protected write(text: string): void {
    if (this.pending !== null) this.pending += text;
    else this.res.write(text);
  }

  private writeHead(contentLength?: number): void {
    this.headWritten = true;
    writeStreamHead(this.res, this.feed.id, this.options.headers, contentLength);
  }

  /** Writes the headers (of a stream that goes on: chunked) and what was gathered during the replay. */
  private flush(): void {
    const pending = this.pending;
    this.pending = null;
    if (!this.headWritten) this.writeHead();
    if (pending !== null && pending !== '' && !this.res.destroyed) this.res.write(pending);
  }

  /**
   * Starts the stream (nothing of the answer is written yet) with the events after `after`. A stream
   * that the replay already ended (a run that answered at once) is never registered nor listens for
   * its client: nothing can happen to it any more. One that goes on is registered right after the
   * replay, in the same synchronous step, so that no revoke can come between.
   */
  protected start(after: number): void {
    const res = this.res;
    // The replay goes out in as few packets as possible.
    res.cork();
    this.corked = true;
    this.pending = '';
    this.prologue();
    this.unsubscribe = this.feed.subscribe(after, this);
    if (!this.finished) {
      res.once('close', this.onClose);
      this.options.registry.add(this);
      this.registered = true;
      this.replayEnded();
    }
    this.flush();
    this.uncork();
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.res.uncork();
  }

  end(): void {
    this.close(false);
  }

  fail(code: StreamEnd, message: string): void {
    if (this.finished) return;
    const feed = this.feed;
    // Its terminal event reaches every stream of the run, this one included, and ends them.
    if (feed instanceof Run && feed.status === 'running') return feed.stop(code, message);
    const last = this.failure(code, message);
    if (last !== '' && !this.res.destroyed) this.write(last);
    this.close(false);
  }

  ping(): void {
    if (!this.finished && !this.res.destroyed) this.res.write(': ping\n\n');
  }

  private close(clientGone: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.unsubscribe();
    if (this.registered) {
      this.registered = false;
      this.options.registry.delete(this);
      this.res.removeListener('close', this.onClose);
    }
    if (!this.headWritten && this.pending !== null) {
      // Ended by its replay: the whole stream is known, so it goes out as one sized body.
      const body = this.pending;
      this.pending = null;
      this.writeHead(Buffer.byteLength(body));
      this.res.end(body);
    } else {
      this.flush();
      // Ended while still corked: the last chunk of the body goes out in the same write as the rest.
      if (!clientGone) this.res.end();
    }
    this.uncork();
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
 * An SSE answer that follows a run: `retry:`, then the run's events after a given one (ids are
 * the run's sequence numbers, so a reconnect's `Last-Event-ID` says exactly what is missing),
 * live until its terminal event, then the end. The trigger's own stream is one (from event 0), and
 * so is every resume. A stream of a finished run or of another instance's run that must end gets
 * a last `run.failed` (without an id, as it is not one of the run's events).
 */
export class RunStream extends FeedStream {
  private sawTerminal = false;

  constructor(
    res: ServerResponse,
    feed: RunFeed,
    private readonly streamOptions: RunStreamOptions,
  ) {
    super(res, feed, streamOptions);
  }

  /** Starts the stream with the events after `after`. */
  open(after: number): void {
    this.start(after);
  }

  protected override prologue(): void {
    this.write(retryField(this.streamOptions.retryMs));
  }

  event(seq: number, name: string, data: string): void {
    if (this.finished || this.res.destroyed) return;
    this.write(sseFrame(seq, name, data));
    if (isTerminal(name)) this.sawTerminal = true;
  }

  protected failure(code: StreamEnd, message: string): string {
    return this.sawTerminal ? '' : `event: ${RUN_FAILED}\ndata: ${JSON.stringify({ run_id: this.feed.id, error: { code, message } })}\n\n`;
  }
}

/**
 * Answers a reader of `feed` who has every event up to `after`: 204 when the run has ended and
 * nothing is missing (which tells an EventSource to stop reconnecting), else 200 and a RunStream
 * from `after` (never stopping the run when the reader leaves). `headers` go on either answer.
 */
export function answerRunStream(res: ServerResponse, feed: RunFeed, after: number, headers: Record<string, string>, options: Omit<RunStreamOptions, 'stopsRunOnClose' | 'headers'>): 204 | 200 {
  if (feed.status !== 'running' && after >= feed.lastSeq) {
    res.writeHead(204, { ...headers, [RUN_ID_HEADER]: feed.id });
    res.end();
    return 204;
  }
  new RunStream(res, feed, { ...options, headers, stopsRunOnClose: false }).open(after);
  return 200;
}

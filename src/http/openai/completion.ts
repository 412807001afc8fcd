import type { ServerResponse } from 'node:http';
import { MESSAGE_DELTA, RUN_COMPLETED, RUN_FAILED, RUN_STARTED, type RunFeed } from '../../runs/run';
import type { ErrorCode } from '../../errors';
import { EXPIRATION_HEADER } from '../auth';
import { statusFor } from '../errors';
import { CLIENT_GONE_MESSAGE, FeedStream, REPLAYED_HEADER, RUN_ID_HEADER, writeStreamHead, type FeedStreamOptions } from '../run-stream';
import type { StreamEnd } from '../streams';
import { outcomeOf, type LogRequest, type RunState, type SendJson } from '../trigger/runs';
import { openAIErrorBody, openAIErrorOf } from './errors';

/**
 * Usage is reported as zeros: a pipeline is not a model, and MechaMental counts requests (per
 * token and day), not a model's tokens. Honest zeros, as docs/openai.md says, rather than guesses.
 */
const ZERO_USAGE = '{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}';

/** A pipeline's output as the assistant's text: a string as it is, anything else as its JSON text. */
export function contentOf(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output ?? null);
}

/** Unix seconds of epoch milliseconds (OpenAI's `created`). */
export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** A `chat.completion` object of a completed run (its id is the run id, its model the pipeline). */
export function completionBody(runId: string, created: number, model: string, output: unknown): string {
  return `{"id":${JSON.stringify(runId)},"object":"chat.completion","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(contentOf(output))},"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":${ZERO_USAGE}}`;
}

/**
 * The JSON answer of a chat completion (started by `executeRun`): when the run ends, its
 * `chat.completion`, or its failure in OpenAI's error shape with the trigger's status and code.
 * A client that leaves first stops a foreground run (as on the trigger).
 */
export function completionRun(res: ServerResponse, state: RunState, sendJson: SendJson, logRequest: LogRequest): void {
  const run = state.run;
  const headers = { [EXPIRATION_HEADER]: state.expiration, [RUN_ID_HEADER]: run.id };
  const answer = () => {
    if (res.destroyed || res.headersSent) return logRequest(state.started, 499, state.tokenId, state.slug, outcomeOf(run));
    if (run.status === 'completed') return sendJson(res, 200, completionBody(run.id, unixSeconds(run.startedAt), run.pipeline, run.output), headers, state.started, state.tokenId, state.slug);
    const failure = run.failure!;
    const status = statusFor(failure.code as ErrorCode);
    sendJson(res, status, openAIErrorBody(failure.code, failure.message, run.id, status), headers, state.started, state.tokenId, state.slug);
  };
  if (run.ended) return answer();
  const onClose = () => {
    if (!run.background) run.stop('client_gone', CLIENT_GONE_MESSAGE);
  };
  res.once('close', onClose);
  run.whenEnded(() => {
    res.removeListener('close', onClose);
    answer();
  });
}

/** The `chat.completion` answer again from a trigger answer an idempotency key kept. */
export function completionOfStored(status: number, triggerBody: string, created: number): { status: number; body: string } {
  if (status !== 200) return { status, body: openAIErrorOf(status, triggerBody) };
  const stored = JSON.parse(triggerBody) as { run_id: string; pipeline: string; output: unknown };
  return { status, body: completionBody(stored.run_id, created, stored.pipeline, stored.output) };
}

/**
 * A run followed as OpenAI `chat.completion.chunk` events (`data: {…}` lines): the assistant's
 * role in the first chunk, the pipeline's deltas as chunks of text, then a last chunk with
 * `finish_reason: "stop"` and `data: [DONE]`. A run that failed (a pipeline error, a revoke, an
 * expiry, shutdown) ends with an error chunk in OpenAI's shape, then `[DONE]`: the SDKs raise it as
 * an APIError with our message. A run whose pipeline gave no deltas (http, a non-string output)
 * sends its output's text as one chunk. A FeedStream like the trigger's RunStream, so that a revoke
 * or an expiry ends it within a second.
 *
 * What the replay reads (the events already there when the stream starts: all of a run that
 * answered at once, or of a replay) goes out as one chunk with the role and the deltas' text
 * joined, as OpenAI's format allows any split of the text; a stream that goes on then sends that
 * chunk at once (with an empty text when there was none yet: the role chunk OpenAI sends first) and
 * one chunk per live delta. A run that answered at once is two chunks and `[DONE]`, not one per word.
 */
export class ChunkStream extends FeedStream {
  private sawDelta = false;
  private roleSent = false;
  /** The text read during the replay and not yet sent: a JSON string without its closing quote (null: none). */
  private held: string | null = null;
  /** Every chunk's opening, up to its `choices` (the same id, created and model in all of them). */
  private readonly head: string;

  constructor(res: ServerResponse, feed: RunFeed, created: number, options: FeedStreamOptions) {
    super(res, feed, options);
    this.head = chunkHead(feed.id, created, feed.pipeline);
  }

  /** Starts the stream from the run's first event. */
  open(): void {
    this.start(0);
  }

  private chunk(delta: string, finish: string): string {
    return chunkOf(this.head, delta, finish);
  }

  /** Text of the answer (`text`: a JSON string): held while the replay is read, else sent as a chunk. */
  private content(text: string): void {
    // Two JSON strings join into one by dropping the first's closing quote and the second's opening one.
    if (this.replaying) this.held = this.held === null ? text.slice(0, -1) : this.held + text.slice(1, -1);
    else this.write(this.contentChunk(text));
  }

  private contentChunk(text: string): string {
    const delta = this.roleSent ? `{"content":${text}}` : firstDelta(text);
    this.roleSent = true;
    return this.chunk(delta, 'null');
  }

  /** Sends the held text (and the role, when no chunk has carried it yet). */
  private release(): void {
    const held = this.held;
    this.held = null;
    if (held !== null) this.write(this.contentChunk(`${held}"`));
    else if (!this.roleSent) this.write(this.contentChunk('""'));
  }

  protected override replayEnded(): void {
    this.release();
  }

  event(_seq: number, name: string, data: string): void {
    if (this.finished || this.res.destroyed) return;
    switch (name) {
      case RUN_STARTED:
        // The role goes out with the first chunk of text (or alone, when the replay ends first).
        return;
      case MESSAGE_DELTA:
        // The data is {"text":<JSON string>} (Run.eventAt, also as stored for other instances): its JSON string is reused as is.
        this.sawDelta = true;
        this.content(data.startsWith('{"text":') ? data.slice(8, -1) : JSON.stringify((JSON.parse(data) as { text: string }).text));
        return;
      case RUN_COMPLETED: {
        if (!this.sawDelta) {
          const { output } = JSON.parse(data) as { output: unknown };
          const text = contentOf(output);
          if (text !== '') this.content(JSON.stringify(text));
        }
        this.release();
        this.write(lastChunk(this.head));
        return;
      }
      case RUN_FAILED: {
        const { error } = JSON.parse(data) as { error: { code: string; message: string } };
        if (this.held !== null) this.release();
        this.write(errorChunk(error.code, error.message, this.feed.id));
        return;
      }
    }
  }

  protected failure(code: StreamEnd, message: string): string {
    return errorChunk(code, message, this.feed.id);
  }
}

/** Every chunk's opening, up to its `choices` (the same id, created and model in all of a run's chunks). */
function chunkHead(runId: string, created: number, model: string): string {
  return `data: {"id":${JSON.stringify(runId)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
}

function chunkOf(head: string, delta: string, finish: string): string {
  return `${head}${delta},"logprobs":null,"finish_reason":${finish}}]}\n\n`;
}

/** The first chunk's delta: the role, and text (a JSON string). */
function firstDelta(text: string): string {
  return `{"role":"assistant","content":${text}}`;
}

/** The last chunk (an empty delta, `finish_reason: "stop"`), then `[DONE]`. */
function lastChunk(head: string): string {
  return `${chunkOf(head, '{}', '"stop"')}data: [DONE]\n\n`;
}

/** The error chunk that ends a failed stream (OpenAI's shape; the SDKs raise it), then `[DONE]`. */
function errorChunk(code: string, message: string, runId: string): string {
  return `data: ${openAIErrorBody(code, message, runId)}\n\ndata: [DONE]\n\n`;
}

/** A streamed chat completion of a run started by `executeRun`. */
export function chunkRun(res: ServerResponse, state: RunState, logRequest: LogRequest): void {
  const run = state.run;
  if (run.status === 'completed') {
    // Answered at once: the stream a ChunkStream would write for it (the role and the whole text in
    // one chunk, the last chunk, [DONE]), written without following the run.
    const head = chunkHead(run.id, unixSeconds(run.startedAt), run.pipeline);
    const body = `${chunkOf(head, firstDelta(JSON.stringify(run.deltasJoined() ?? contentOf(run.output))), 'null')}${lastChunk(head)}`;
    writeStreamHead(res, run.id, { [EXPIRATION_HEADER]: state.expiration }, Buffer.byteLength(body));
    res.end(body);
    return logRequest(state.started, 200, state.tokenId, state.slug, outcomeOf(run));
  }
  new ChunkStream(res, run, unixSeconds(run.startedAt), {
    headers: { [EXPIRATION_HEADER]: state.expiration },
    tokenId: state.tokenId,
    expiresAt: state.expiresAt,
    registry: state.streams,
    stopsRunOnClose: !run.background,
    onClosed: (clientGone) => logRequest(state.started, clientGone ? 499 : 200, state.tokenId, state.slug, clientGone ? 'client_gone' : outcomeOf(run)),
  }).open();
}

/** A held key's run streamed again as chunks from its first event (never stopping it when the reader leaves). */
export function replayChunks(res: ServerResponse, feed: RunFeed, created: number, headers: Record<string, string>, options: Omit<FeedStreamOptions, 'stopsRunOnClose' | 'headers'>): void {
  new ChunkStream(res, feed, created, { ...options, headers: { ...headers, [REPLAYED_HEADER]: 'true' }, stopsRunOnClose: false }).open();
}

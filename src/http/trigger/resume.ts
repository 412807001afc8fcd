import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ErrorCode } from '../../errors';
import type { Logger } from '../../log';
import { LOST_RUN } from '../../runs/remote';
import type { Run, RunFeed } from '../../runs/run';
import type { KeyState, RunService } from '../../runs/service';
import { EXPIRATION_HEADER } from '../auth';
import { RECONNECT_NOT_FOUND_STATUS } from '../errors';
import { answerRunStream, REPLAYED_HEADER, RUN_ID_HEADER } from '../run-stream';
import type { StreamRegistry } from '../streams';
import { jsonAnswer, jsonAnswerOfRun } from './runs';

/**
 * The trigger's run headers beyond the hot path's: the EventSource reconnect (`Last-Event-ID`,
 * `Mechamental-Run-Id`) and idempotent retries (`Idempotency-Key`). A trigger that sends none of
 * them never reaches this module.
 */

/** The run headers of one trigger request, as read in its one pass over the raw headers. */
export interface RunHeaders {
  lastEventId: string | undefined;
  runId: string | undefined;
  idempotencyKey: string | undefined;
  /** More than one Idempotency-Key header. */
  duplicateKey: boolean;
  runMode: string | undefined;
}

export type RunHeaderCheck = { ok: true; after: number | undefined; background: boolean } | { ok: false; message: string };

const MAX_EVENT_ID = 1_000_000_000;
/** Visible ASCII and spaces: a key is compared byte for byte, so nothing that encodings could change. */
const KEY = /^[\x20-\x7e]{1,255}$/;

/** 400 `invalid_request` for a run header that cannot be right, naming it. */
export function checkRunHeaders(headers: RunHeaders): RunHeaderCheck {
  let after: number | undefined;
  if (headers.lastEventId !== undefined) {
    const text = headers.lastEventId.trim();
    if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_EVENT_ID) {
      return { ok: false, message: 'Last-Event-ID must be the id of an event this server sent (a whole number such as 5); it marks a reconnect, which never starts a run' };
    }
    after = Number(text);
  }
  if (headers.duplicateKey) return { ok: false, message: 'the request carries more than one Idempotency-Key header; send exactly one' };
  if (headers.idempotencyKey !== undefined && !KEY.test(headers.idempotencyKey)) {
    return { ok: false, message: 'Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good key)' };
  }
  let background = false;
  if (headers.runMode !== undefined) {
    const mode = headers.runMode.trim().toLowerCase();
    if (mode === 'background') background = true;
    else if (mode !== 'foreground') return { ok: false, message: 'Mechamental-Run-Mode must be "background" (the run goes on when the client leaves) or "foreground" (the default)' };
  }
  return { ok: true, after, background };
}

/** What the resume and replay answers need from their trigger request. */
export interface ResumeContext {
  res: ServerResponse;
  tokenId: string;
  expiresAt: number;
  expiration: string;
  slug: string;
  runs: RunService;
  streams: StreamRegistry;
  logger: Logger;
  retryMs: number;
  /** Writes a JSON answer and its access-log line. */
  sendJson(status: number, body: string, headers: Record<string, string>): void;
  sendError(status: number, code: ErrorCode, message: string, headers?: Record<string, string>): void;
  /** The access-log line of an answer written here (a stream's, when it ends). */
  logRequest(status: number, outcome?: string): void;
  /** The store failed: 503. */
  unavailable(error: unknown): void;
  /** Anything else failed: logged, and a 500 (or the connection cut, once the answer began). */
  unexpected(error: unknown): void;
}

/**
 * A stream of `feed` after event `after`, or 204 when the run has ended and the reader has every
 * event (which tells an EventSource to stop reconnecting). Never stops the run when the reader leaves.
 */
export function answerResume(ctx: ResumeContext, feed: RunFeed, after: number, replayed = false): void {
  const headers: Record<string, string> = { [EXPIRATION_HEADER]: ctx.expiration };
  if (replayed) headers[REPLAYED_HEADER] = 'true';
  const status = answerRunStream(ctx.res, feed, after, headers, {
    tokenId: ctx.tokenId,
    expiresAt: ctx.expiresAt,
    registry: ctx.streams,
    retryMs: ctx.retryMs,
    onClosed: (clientGone) => ctx.logRequest(clientGone ? 499 : 200, clientGone ? 'client_gone' : 'resumed'),
  });
  if (status === 204) ctx.logRequest(204, 'all_delivered');
}

/**
 * The EventSource reconnect rule (SPEC): a trigger `POST` with `Last-Event-ID: n` never starts a
 * run. It resumes the run named by `Mechamental-Run-Id`, or by its `Idempotency-Key`, or else the
 * token's newest run of this pipeline that has event n; after the end, with every event delivered,
 * 204; no such run: 409 `run_not_found`.
 */
export function reconnect(ctx: ResumeContext, headers: RunHeaders, after: number): void {
  findReconnected(ctx, headers, after).then(
    (feed) => {
      if (feed === undefined || feed.pipeline !== ctx.slug) {
        return ctx.sendError(
          RECONNECT_NOT_FOUND_STATUS,
          'run_not_found',
          `this is a reconnect (it carries Last-Event-ID), which never starts a run, and it names no run of this token and pipeline that is still kept; send Mechamental-Run-Id with the id of the run to resume, or start a new run without Last-Event-ID`,
        );
      }
      answerResume(ctx, feed, after);
    },
    (error: unknown) => ctx.unavailable(error),
  )
    .catch((error: unknown) => ctx.unexpected(error));
}

async function findReconnected(ctx: ResumeContext, headers: RunHeaders, after: number): Promise<RunFeed | undefined> {
  const { runs, tokenId } = ctx;
  if (headers.runId !== undefined) return runs.find(headers.runId.trim(), tokenId);
  if (headers.idempotencyKey !== undefined) {
    const held = await runs.keyStateOf(tokenId, headers.idempotencyKey);
    if (held === undefined) return undefined;
    return feedOfKey(ctx, held);
  }
  return runs.findRecent(tokenId, ctx.slug, after);
}

/** SHA-256 of the pipeline and the body's bytes: what a retry with the same key must send again. */
export function fingerprintOf(slug: string, body: Buffer): string {
  return createHash('sha256').update(slug).update('\n').update(body).digest('hex');
}

/** The run of a key held by another request, to read from its first event (undefined: not readable yet). */
async function feedOfKey(ctx: ResumeContext, held: KeyState): Promise<RunFeed | undefined> {
  switch (held.state) {
    case 'answered':
      return ctx.runs.feedOfAnswered(held.row);
    case 'running':
      return held.feed;
    case 'lost': {
      const answer = jsonAnswer(held.row.runId, held.row.pipeline, { failure: LOST_RUN });
      await ctx.runs.completeKey(held.row.tokenId, held.row.key, held.row.runId, answer.status, answer.body);
      return ctx.runs.feedOfAnswered({ ...held.row, answerStatus: answer.status, answer: answer.body });
    }
    case 'starting':
      return undefined;
  }
}

/**
 * A trigger whose Idempotency-Key another request holds (SPEC, Stripe's semantics): a different
 * body or pipeline → 422 `idempotency_key_mismatch`; else JSON gets the first answer again
 * (`Idempotent-Replayed: true`), or 409 `idempotency_key_in_use` while the first still runs; SSE
 * attaches to the same run from its first event. The pipeline never runs twice.
 */
export function answerHeldKey(ctx: ResumeContext, held: KeyState, fingerprint: string, sse: boolean): void {
  const { row } = held;
  if (row.fingerprint !== fingerprint) {
    return ctx.sendError(
      422,
      'idempotency_key_mismatch',
      'this Idempotency-Key was used in the last 24 h for a request with another body or pipeline; a retry must send the same request, and a new request needs a new key',
    );
  }
  if (!sse && held.state === 'running' && held.feed.status === 'running') return inUse(ctx);
  if (!sse && held.state === 'starting') return inUse(ctx);
  feedOfKey(ctx, held).then(
    (feed) => {
      if (feed === undefined) return inUse(ctx);
      if (sse) return answerResume(ctx, feed, 0, true);
      const answer = row.answer !== null ? { status: row.answerStatus!, body: row.answer } : jsonAnswerOf(feed);
      ctx.sendJson(answer.status, answer.body, { [EXPIRATION_HEADER]: ctx.expiration, [RUN_ID_HEADER]: row.runId, [REPLAYED_HEADER]: 'true' });
    },
    (error: unknown) => ctx.unavailable(error),
  )
    .catch((error: unknown) => ctx.unexpected(error));
}

function jsonAnswerOf(feed: RunFeed): { status: number; body: string } {
  const view = feed.view();
  return jsonAnswer(view.run_id, view.pipeline, view.status === 'completed' ? { output: view.output } : { failure: view.error! });
}

function inUse(ctx: ResumeContext): void {
  ctx.sendError(
    409,
    'idempotency_key_in_use',
    'a request with this Idempotency-Key is still running; retry when it has ended to get its answer (or send Accept: text/event-stream to follow it)',
    { 'Retry-After': '1' },
  );
}

/**
 * When a key's run ends, stores its answer for the retries; a run stopped because its client left
 * did nothing worth replaying, so its key is given back and a retry runs again.
 */
export function storeAnswerWhenEnded(runs: RunService, logger: Logger, key: string, run: Run): void {
  run.whenEnded(() => {
    const done =
      run.failure?.code === 'client_gone'
        ? runs.releaseKey(run.tokenId, key, run.id)
        : (() => {
            const answer = jsonAnswerOfRun(run);
            return runs.completeKey(run.tokenId, key, run.id, answer.status, answer.body);
          })();
    done.catch((error: unknown) => logger.error({ err: error, run_id: run.id }, 'storing the answer of an idempotent run failed; a retry may meet idempotency_key_in_use until the run is no longer kept'));
  });
}

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Statement } from 'better-sqlite3';
import type { PipelineConfig, PipelineKind } from '../apps/pipeline-config';
import { formatTime } from '../clock';
import type { ErrorCode } from '../errors';
import { accessLogger, createLogger, type Logger } from '../log';
import { RunAborted, RunControl, startRun, type RunInput } from '../pipelines/index';
import type { Services } from '../services';
import { authenticateHeader, CHALLENGE_INSUFFICIENT_SCOPE, DUPLICATE, EXPIRATION_HEADER, type Verify } from './auth';
import { errorBody, toHttpError } from './errors';
import { Metrics } from './metrics';
import { RateLimiter } from './rate-limit';
import { SSE_HEADERS, SseWriter } from './sse';
import { StreamRegistry, type OpenStream } from './streams';

export const TRIGGER_PREFIX = '/v1/trigger/';
export const TRIGGER_ROUTE = '/v1/trigger/:pipeline';

export interface TriggerOptions {
  /**
   * Token verification; default `services.tokens.verify` (reads SQLite every call, and fetches the
   * pipeline in the same read). Benchmarks may inject a constant; the pipeline is then read apart.
   */
  verify?: Verify;
  logger?: Logger;
  metrics?: Metrics;
  /** The open-stream registry (its watcher ends streams of revoked tokens). Default: a new one, started. */
  streams?: StreamRegistry;
  /** Largest body accepted (bytes); default `services.config.maxBodyBytes` (MM_MAX_BODY). */
  maxBodyBytes?: number;
}

/**
 * The trigger hot path as a plain node:http handler: answers `POST /v1/trigger/<pipeline>` and
 * returns true, or returns false (having touched nothing) for every other request, so that it can
 * sit in front of the Express app on the same listener.
 */
export type TriggerHandler = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  readonly streams: StreamRegistry;
  /** From now on, answers 503 `shutting_down` (with Connection: close). */
  beginShutdown(): void;
  /** Runs in progress (JSON and SSE). */
  readonly activeRuns: number;
};

interface PipelineRow {
  kind: PipelineKind;
  config: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const NOOP = (): void => {};

/** Is this Content-Type JSON (`application/json` or `…+json`, any parameters)? */
function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === 'application/json') return true; // what nearly every client sends
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

// Run ids come from a pooled buffer of CSPRNG bytes: one randomBytes call per 512 ids instead of
// one (a syscall) per request.
const RUN_ID_BYTES = 12;
const RUN_ID_POOL = 512;
let runIdPool = randomBytes(RUN_ID_BYTES * RUN_ID_POOL);
let runIdOffset = 0;

/** `run_` + 24 lowercase hex characters (96 random bits). */
function newRunId(): string {
  if (runIdOffset === runIdPool.length) {
    runIdPool = randomBytes(RUN_ID_BYTES * RUN_ID_POOL);
    runIdOffset = 0;
  }
  const id = `run_${runIdPool.toString('hex', runIdOffset, runIdOffset + RUN_ID_BYTES)}`;
  runIdOffset += RUN_ID_BYTES;
  return id;
}

/**
 * Builds the trigger handler. Per request: authentication from the raw headers (no database access
 * for a malformed value; one prepared, indexed lookup otherwise, never cached, so a revoke from
 * any process is seen by the next request) before any byte of the body is read; the token's
 * rate limit; the pipeline looked up in the token's own app (another app's pipeline is
 * `pipeline_not_found`); the Content-Type and the body limit; then the run, answered as JSON or
 * streamed as SSE. Uses are noted in the UsageRecorder (batched, no write per request).
 */
export function createTriggerHandler(services: Services, options: TriggerOptions = {}): TriggerHandler {
  const verify: Verify = options.verify ?? ((value, pipeline) => services.tokens.verify(value, pipeline));
  const logger = options.logger ?? createLogger({ level: services.config.logLevel });
  const metrics = options.metrics ?? new Metrics({ defaultMetrics: false });
  const streams = options.streams ?? new StreamRegistry(services, { metrics, logger });
  if (!options.streams) streams.start();
  const maxBodyBytes = options.maxBodyBytes ?? services.config.maxBodyBytes;
  const limiter = new RateLimiter();
  const clock = services.clock;
  const usage = services.usage;
  const pipelineStatement: Statement<[number, string], PipelineRow> = services.db.sqlite.prepare(
    'SELECT kind, config FROM pipelines WHERE app_id = ? AND slug = ?',
  );
  // Parsed configs keyed by their stored text: a changed pipeline has a new text, so this cache
  // can never serve a stale config (the row itself is read on every request).
  const configs = new Map<string, PipelineConfig>();
  const parseConfig = (text: string): PipelineConfig => {
    let config = configs.get(text);
    if (config === undefined) {
      config = JSON.parse(text) as PipelineConfig;
      if (configs.size >= 1000) configs.clear();
      configs.set(text, config);
    }
    return config;
  };
  const authFailures = new Map<string, { inc(): void }>();
  const countAuthFailure = (reason: string) => {
    let child = authFailures.get(reason);
    if (child === undefined) authFailures.set(reason, (child = metrics.authFailures.labels(reason)));
    child.inc();
  };
  let closing = false;
  let activeRuns = 0;
  // The last expiry header text: most traffic comes from few tokens, so this saves a Date per request.
  let lastExpiresAt = Number.NaN;
  let lastExpiration = '';

  const writeAccessLine = accessLogger(logger, 'POST', TRIGGER_ROUTE);
  const countRequest = metrics.requestCounter(TRIGGER_ROUTE, 'POST');
  const logRequest = (started: number, status: number, tokenId: string | null, pipeline: string | null, outcome?: string) => {
    countRequest(status);
    writeAccessLine({ status, durationMs: performance.now() - started, tokenId, pipeline, outcome });
  };

  const sendJson = (res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders | null, started: number, tokenId: string | null, pipeline: string | null) => {
    if (res.headersSent || res.destroyed) return;
    // writeHead with a flat name/value list: no per-header setHeader bookkeeping on the hot path.
    const list: Array<string | number> = ['Content-Type', JSON_TYPE, 'Content-Length', Buffer.byteLength(body)];
    if (headers !== null) for (const name in headers) list.push(name, headers[name] as string);
    res.writeHead(status, list as string[]);
    res.end(body);
    logRequest(started, status, tokenId, pipeline);
  };

  const sendError = (
    res: ServerResponse,
    status: number,
    code: ErrorCode,
    message: string,
    headers: OutgoingHttpHeaders | null,
    started: number,
    tokenId: string | null,
    pipeline: string | null,
  ) => sendJson(res, status, errorBody(code, message), headers, started, tokenId, pipeline);

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url;
    if (url === undefined || req.method !== 'POST' || !url.startsWith(TRIGGER_PREFIX)) return false;
    const started = performance.now();
    if (closing) {
      sendError(res, 503, 'shutting_down', 'the server is shutting down; retry shortly', { Connection: 'close' }, started, null, null);
      return true;
    }

    // One pass over the raw headers for everything this path needs.
    let authorization: string | typeof DUPLICATE | undefined;
    let contentType: string | undefined;
    let contentLength: string | undefined;
    let accept: string | undefined;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      switch (name.length) {
        case 13:
          if (name.toLowerCase() === 'authorization') authorization = authorization === undefined ? raw[i + 1]! : DUPLICATE;
          break;
        case 12:
          if (name.toLowerCase() === 'content-type') contentType = raw[i + 1];
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') contentLength = raw[i + 1];
          break;
        case 6:
          if (name.toLowerCase() === 'accept') accept = accept === undefined ? raw[i + 1] : `${accept},${raw[i + 1]}`;
          break;
      }
    }

    const q = url.indexOf('?');
    const slug = q === -1 ? url.slice(TRIGGER_PREFIX.length) : url.slice(TRIGGER_PREFIX.length, q);
    const auth = authenticateHeader(authorization, url, verify, slug);
    if (!auth.ok) {
      countAuthFailure(auth.reason);
      sendError(res, auth.status, auth.code, auth.message, { 'WWW-Authenticate': auth.challenge }, started, null, null);
      return true;
    }
    const token = auth.token;
    usage.touch(token.id);
    if (token.expiresAt !== lastExpiresAt) {
      lastExpiresAt = token.expiresAt;
      lastExpiration = formatTime(token.expiresAt);
    }
    const expiration = lastExpiration;
    if (token.kind !== 'trigger' || token.appId === null) {
      countAuthFailure('insufficient_scope');
      sendError(
        res,
        403,
        'insufficient_scope',
        `token ${token.id} is an admin token; triggering a pipeline needs a trigger token (mm_tok_…) of the pipeline's app`,
        { 'WWW-Authenticate': CHALLENGE_INSUFFICIENT_SCOPE, [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        null,
      );
      return true;
    }
    if (token.rateLimit !== null) {
      const retryAfter = limiter.take(token.id, token.rateLimit, clock.now());
      if (retryAfter > 0) {
        sendError(
          res,
          429,
          'rate_limited',
          `token ${token.id} is limited to ${token.rateLimit} requests per minute; retry in ${retryAfter} s`,
          { 'Retry-After': String(retryAfter), [EXPIRATION_HEADER]: expiration },
          started,
          token.id,
          null,
        );
        return true;
      }
    }

    const row =
      auth.pipeline !== undefined
        ? auth.pipeline
        : slug.length > 0 && slug.length <= 63
          ? pipelineStatement.get(token.appId, slug)
          : undefined;
    if (!row) {
      const shown = /^[a-z0-9][a-z0-9-]{0,62}$/.test(slug) ? `"${slug}" ` : '';
      sendError(
        res,
        404,
        'pipeline_not_found',
        `pipeline ${shown}does not exist in app "${token.app}"; list them with \`mechamental pipelines list --app ${token.app}\``,
        { [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        null,
      );
      return true;
    }
    if (!isJsonType(contentType)) {
      sendError(res, 415, 'unsupported_media_type', 'the body must be JSON: send "Content-Type: application/json"', { [EXPIRATION_HEADER]: expiration }, started, token.id, slug);
      return true;
    }
    if (contentLength !== undefined && Number(contentLength) > maxBodyBytes) {
      sendError(res, 413, 'payload_too_large', `the body is larger than the limit of ${maxBodyBytes} bytes (MM_MAX_BODY)`, { [EXPIRATION_HEADER]: expiration, Connection: 'close' }, started, token.id, slug);
      return true;
    }

    const wantsStream = accept !== undefined && accept.includes('text/event-stream');
    const afterBody = (body: Buffer | 'too_large' | 'aborted'): void => {
      if (body === 'aborted') return logRequest(started, 499, token.id, slug, 'client_gone');
      if (body === 'too_large') {
        sendError(res, 413, 'payload_too_large', `the body is larger than the limit of ${maxBodyBytes} bytes (MM_MAX_BODY)`, { [EXPIRATION_HEADER]: expiration, Connection: 'close' }, started, token.id, slug);
        return;
      }
      let input: unknown;
      try {
        input = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
      } catch {
        sendError(res, 400, 'invalid_json', 'the body is not valid JSON; send a JSON object such as {"message": "Hello"}', { [EXPIRATION_HEADER]: expiration }, started, token.id, slug);
        return;
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        sendError(res, 400, 'invalid_json', 'the body must be a JSON object such as {"message": "Hello"}', { [EXPIRATION_HEADER]: expiration }, started, token.id, slug);
        return;
      }
      const run: RunState = { streams, metrics, logger, started, tokenId: token.id, expiresAt: token.expiresAt, expiration, slug, kind: row.kind, config: parseConfig(row.config), input: input as RunInput };
      activeRuns++;
      const done = () => {
        activeRuns--;
      };
      const unexpected = (error: unknown) => {
        done();
        logger.error({ err: error, route: TRIGGER_ROUTE }, 'trigger run failed unexpectedly');
        if (!res.headersSent) {
          const failure = toHttpError(error);
          sendError(res, failure.status, failure.code, failure.message, null, started, token.id, slug);
        } else res.destroy();
      };
      let pending: void | Promise<void>;
      try {
        pending = wantsStream ? streamRun(res, run, logRequest) : jsonRun(res, run, sendJson, logRequest);
      } catch (error) {
        return unexpected(error);
      }
      if (pending === undefined) done();
      else pending.then(done, unexpected);
    };
    readBody(req, maxBodyBytes, (body) => {
      try {
        afterBody(body);
      } catch (error) {
        // Nothing in afterBody should throw; if it does, this request ends and the server goes on.
        logger.error({ err: error, route: TRIGGER_ROUTE }, 'trigger request failed unexpectedly');
        res.destroy();
      }
    });
    return true;
  }) as TriggerHandler;

  Object.defineProperties(handler, {
    streams: { value: streams },
    beginShutdown: {
      value: () => {
        closing = true;
      },
    },
    activeRuns: { get: () => activeRuns },
  });
  return handler;
}

interface RunState {
  streams: StreamRegistry;
  metrics: Metrics;
  logger: Logger;
  started: number;
  tokenId: string;
  expiresAt: number;
  expiration: string;
  slug: string;
  kind: PipelineKind;
  config: PipelineConfig;
  input: RunInput;
}

type SendJson = (res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders | null, started: number, tokenId: string | null, pipeline: string | null) => void;
type LogRequest = (started: number, status: number, tokenId: string | null, pipeline: string | null, outcome?: string) => void;

/**
 * Reads the body up to `limit` bytes and calls `done` once: with the body, 'too_large' beyond the
 * limit (reading stops), or 'aborted' if the client went away. A callback, not a promise: no
 * microtask hop between the last chunk and the run on the hot path.
 */
function readBody(req: IncomingMessage, limit: number, done: (body: Buffer | 'too_large' | 'aborted') => void): void {
  let first: Buffer | undefined;
  let chunks: Buffer[] | undefined;
  let size = 0;
  let settled = false;
  const settle = (value: Buffer | 'too_large' | 'aborted') => {
    if (settled) return;
    settled = true;
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('error', onError);
    done(value);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.pause();
      return settle('too_large');
    }
    if (first === undefined) first = chunk;
    else (chunks ??= [first]).push(chunk);
  };
  const onEnd = () => settle(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
  const onError = () => settle('aborted');
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
}

function outcomeOf(error: unknown): string {
  return error instanceof RunAborted ? error.why : toHttpError(error).code;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * A JSON-mode run. A runner that answers synchronously (echo without delay) is answered in the
 * same tick, with no AbortController, close listener or promise; otherwise the client going away
 * aborts the run.
 */
function jsonRun(res: ServerResponse, run: RunState, sendJson: SendJson, logRequest: LogRequest): void | Promise<void> {
  const control = new RunControl(NOOP);
  const runStarted = performance.now();
  const succeed = (output: unknown) => {
    run.metrics.observeRun(run.kind, 'completed', (performance.now() - runStarted) / 1000);
    sendJson(res, 200, JSON.stringify({ run_id: newRunId(), pipeline: run.slug, output: output ?? null }), { [EXPIRATION_HEADER]: run.expiration }, run.started, run.tokenId, run.slug);
  };
  const fail = (error: unknown) => {
    const outcome = outcomeOf(error);
    run.metrics.observeRun(run.kind, outcome, (performance.now() - runStarted) / 1000);
    if (control.aborted) return logRequest(run.started, 499, run.tokenId, run.slug, outcome);
    const failure = toHttpError(error);
    if (failure.code === 'internal') run.logger.error({ err: error }, 'pipeline run failed unexpectedly');
    sendJson(res, failure.status, errorBody(failure.code, failure.message), { [EXPIRATION_HEADER]: run.expiration }, run.started, run.tokenId, run.slug);
  };
  let result: unknown;
  try {
    result = startRun({ kind: run.kind, config: run.config }, run.input, control);
  } catch (error) {
    return fail(error);
  }
  if (!isPromise(result)) return succeed(result);
  const onClose = () => {
    if (!res.writableFinished) control.abort(new RunAborted('client_gone'));
  };
  res.once('close', onClose);
  return result.then(succeed, fail).finally(() => res.removeListener('close', onClose));
}

async function streamRun(res: ServerResponse, run: RunState, logRequest: LogRequest): Promise<void> {
  const runId = newRunId();
  res.writeHead(200, { ...SSE_HEADERS, [EXPIRATION_HEADER]: run.expiration });
  const sse = new SseWriter(res);
  const control = new RunControl((text) => sse.event('message.delta', { text }));
  let outcome = 'completed';
  const stream: OpenStream = {
    tokenId: run.tokenId,
    expiresAt: run.expiresAt,
    fail(code, message) {
      if (sse.isEnded) return;
      outcome = code;
      sse.event('run.failed', { run_id: runId, error: { code, message } });
      sse.end();
      control.abort(new RunAborted(code));
    },
    ping() {
      sse.comment('ping');
    },
  };
  const onClose = () => {
    if (!sse.isEnded) {
      outcome = 'client_gone';
      control.abort(new RunAborted('client_gone'));
    }
  };
  res.once('close', onClose);
  sse.event('run.started', { run_id: runId, pipeline: run.slug });
  run.streams.add(stream);
  const runStarted = performance.now();
  try {
    const output = await startRun({ kind: run.kind, config: run.config }, run.input, control);
    if (!control.aborted) sse.event('run.completed', { run_id: runId, output: output ?? null });
  } catch (error) {
    if (!control.aborted) {
      const failure = toHttpError(error);
      outcome = failure.code;
      if (failure.code === 'internal') run.logger.error({ err: error, run_id: runId }, 'pipeline run failed unexpectedly');
      sse.event('run.failed', { run_id: runId, error: { code: failure.code, message: failure.message } });
    }
  } finally {
    run.streams.delete(stream);
    res.removeListener('close', onClose);
    sse.end();
    run.metrics.observeRun(run.kind, outcome, (performance.now() - runStarted) / 1000);
    logRequest(run.started, outcome === 'client_gone' ? 499 : 200, run.tokenId, run.slug, outcome);
  }
}

import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PipelineConfig, PipelineKind } from '../../apps/pipeline-config';
import type { Logger } from '../../log';
import { RunAborted, RunControl, startRun, type RunInput } from '../../pipelines/index';
import { EXPIRATION_HEADER } from '../auth';
import type { ErrorCode } from '../../errors';
import { describeRunFailure } from '../../pipelines/failure';
import { errorBody, scrubSecrets, statusFor, toHttpError } from '../errors';
import type { Metrics } from '../metrics';
import { SSE_HEADERS, SseWriter } from '../sse';
import type { OpenStream, StreamEnd, StreamRegistry } from '../streams';

/** The header that names the run on every answer that started one. */
export const RUN_ID_HEADER = 'Mechamental-Run-Id';

/** Everything a run needs, gathered by the request's phases. */
export interface RunState {
  streams: StreamRegistry;
  metrics: Metrics;
  logger: Logger;
  runId: string;
  started: number;
  tokenId: string;
  expiresAt: number;
  expiration: string;
  slug: string;
  kind: PipelineKind;
  config: PipelineConfig;
  input: RunInput;
}

export type SendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> | null, started: number, tokenId: string | null, pipeline: string | null) => void;
export type LogRequest = (started: number, status: number, tokenId: string | null, pipeline: string | null, outcome?: string) => void;

const NOOP = (): void => {};

/**
 * A failed run as its caller sees it (code, run id, a generic message unless the pipeline says
 * `expose_errors`) and as the log records it (the stderr tail or the upstream's answer).
 */
function describeFailure(run: RunState, error: unknown): { code: ErrorCode; message: string } {
  const failure = describeRunFailure(error, run.config, run.runId);
  if (failure.detail !== undefined) {
    const entry = { run_id: run.runId, pipeline: run.slug, code: failure.code, detail: scrubSecrets(failure.detail) };
    if (failure.code === 'internal') run.logger.error(entry, 'pipeline run failed unexpectedly');
    else run.logger.warn(entry, 'pipeline run failed');
  }
  return { code: failure.code, message: scrubSecrets(failure.message) };
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
export function jsonRun(res: ServerResponse, run: RunState, sendJson: SendJson, logRequest: LogRequest): void | Promise<void> {
  const control = new RunControl(NOOP);
  const runStarted = performance.now();
  const headers = { [EXPIRATION_HEADER]: run.expiration, [RUN_ID_HEADER]: run.runId };
  const succeed = (output: unknown) => {
    run.metrics.observeRun(run.kind, 'completed', (performance.now() - runStarted) / 1000);
    sendJson(res, 200, JSON.stringify({ run_id: run.runId, pipeline: run.slug, output: output ?? null }), headers, run.started, run.tokenId, run.slug);
  };
  const fail = (error: unknown) => {
    const outcome = outcomeOf(error);
    run.metrics.observeRun(run.kind, outcome, (performance.now() - runStarted) / 1000);
    if (control.aborted) return logRequest(run.started, 499, run.tokenId, run.slug, outcome);
    const failure = describeFailure(run, error);
    sendJson(res, statusFor(failure.code), errorBody(failure.code, failure.message, run.runId), headers, run.started, run.tokenId, run.slug);
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

/**
 * An SSE run: `run.started`, the deltas, then `run.completed` or `run.failed`; registered with the
 * stream registry (which ends it when its token is revoked or expires) for as long as it is open.
 */
export async function streamRun(res: ServerResponse, run: RunState, logRequest: LogRequest): Promise<void> {
  const runId = run.runId;
  res.writeHead(200, { ...SSE_HEADERS, [EXPIRATION_HEADER]: run.expiration, [RUN_ID_HEADER]: runId });
  const sse = new SseWriter(res);
  const control = new RunControl((text) => sse.event('message.delta', { text }));
  let outcome = 'completed';
  const stream: OpenStream = {
    tokenId: run.tokenId,
    expiresAt: run.expiresAt,
    fail(code: StreamEnd, message: string) {
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
      const failure = describeFailure(run, error);
      outcome = failure.code;
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

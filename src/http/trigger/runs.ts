import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PipelineConfig, PipelineKind } from '../../apps/pipeline-config';
import type { ErrorCode } from '../../errors';
import type { Logger } from '../../log';
import { describeRunFailure } from '../../pipelines/failure';
import { RunAborted, RunControl, startRun, type RunInput } from '../../pipelines/index';
import type { Run, RunFailure } from '../../runs/run';
import { EXPIRATION_HEADER } from '../auth';
import { errorBody, scrubSecrets, statusFor } from '../errors';
import type { Metrics } from '../metrics';
import { CLIENT_GONE_MESSAGE, REPLAYED_HEADER, RUN_ID_HEADER, RunStream } from '../run-stream';
import type { OpenStream, StreamRegistry } from '../streams';

export { RUN_ID_HEADER } from '../run-stream';

/** Everything a run needs, gathered by the request's phases. */
export interface RunState {
  streams: StreamRegistry;
  metrics: Metrics;
  logger: Logger;
  run: Run;
  started: number;
  tokenId: string;
  expiresAt: number;
  expiration: string;
  slug: string;
  kind: PipelineKind;
  config: PipelineConfig;
  input: RunInput;
  /** The `retry:` an SSE answer sends first (ms). */
  retryMs: number;
}

export type SendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> | null, started: number, tokenId: string | null, pipeline: string | null) => void;
export type LogRequest = (started: number, status: number, tokenId: string | null, pipeline: string | null, outcome?: string) => void;

const NOOP = (): void => {};

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Ends `run` as failed the way its caller sees it (code, run id, a generic message unless the
 * pipeline says `expose_errors`) and logs what the caller does not see (the stderr tail, the
 * upstream's answer). A run that already ended (stopped: cancelled, revoked, client gone) is left as it is.
 */
function failRun(state: RunState, error: unknown): void {
  const run = state.run;
  if (run.ended) return;
  const failure = describeRunFailure(error, state.config, run.id);
  if (failure.detail !== undefined) {
    const entry = { run_id: run.id, pipeline: state.slug, code: failure.code, detail: scrubSecrets(failure.detail) };
    if (failure.code === 'internal') state.logger.error(entry, 'pipeline run failed unexpectedly');
    else state.logger.warn(entry, 'pipeline run failed');
  }
  run.fail(failure.code, scrubSecrets(failure.message));
}

/** How a run ended, for the metrics and the access log. */
export function outcomeOf(run: Run): string {
  return run.status === 'completed' ? 'completed' : (run.failure?.code ?? 'running');
}

/**
 * Starts the pipeline of `state.run`: its deltas and its end go to the run, and `run.stop` (cancel,
 * revoke, the client gone) aborts it. `onSettled` is called once the pipeline has stopped (its child
 * exited, its request ended): the run's slots are given back then, not when its client leaves. A
 * background run is registered with the stream registry for as long as it runs, so that revoking
 * its token stops it even with no stream open.
 */
export function executeRun(state: RunState, onSettled: () => void): void {
  const run = state.run;
  const control = new RunControl((text) => run.delta(text));
  run.onStop((why) => control.abort(new RunAborted(why)));
  if (run.background) watchBackground(state);
  const runStarted = performance.now();
  const settle = () => {
    state.metrics.observeRun(state.kind, outcomeOf(run), (performance.now() - runStarted) / 1000);
    onSettled();
  };
  let result: unknown;
  try {
    result = startRun({ kind: state.kind, config: state.config }, state.input, control);
  } catch (error) {
    failRun(state, error);
    return settle();
  }
  if (!isPromise(result)) {
    run.complete(result);
    return settle();
  }
  result
    .then(
      (output) => run.complete(output),
      (error: unknown) => failRun(state, error),
    )
    .catch((error: unknown) => {
      // A listener of the run threw while it ended: the run has ended all the same.
      state.logger.error({ err: error, run_id: run.id }, 'ending a run failed unexpectedly');
      run.fail('internal', 'internal error; the server log has the details');
    })
    .finally(settle);
}

function watchBackground(state: RunState): void {
  const { run, streams } = state;
  const entry: OpenStream = {
    tokenId: state.tokenId,
    expiresAt: state.expiresAt,
    // At shutdown a run gets the grace period like any JSON run (the server ends what is left after it).
    fail: (code, message) => {
      if (code !== 'shutting_down') run.stop(code, message);
    },
    ping: NOOP,
    watchOnly: true,
  };
  streams.add(entry);
  run.whenEnded(() => streams.delete(entry));
}

/** Text that JSON holds as it is between quotes (run ids and pipeline slugs are made of these). */
const PLAIN = /^[\w-]*$/;

/** The JSON answer of an ended run (SPEC): 200 `{run_id, pipeline, output}`, or its error with the run id. */
export function jsonAnswer(runId: string, pipeline: string, end: { output: unknown } | { failure: RunFailure }): { status: number; body: string } {
  if ('failure' in end) return { status: statusFor(end.failure.code as ErrorCode), body: errorBody(end.failure.code as ErrorCode, end.failure.message, runId) };
  // Every trigger's answer: put together around the output's own JSON, the bytes JSON.stringify gives
  // for the whole object (without the object and its walk: ~2 % of a request in a profile).
  const output = JSON.stringify(end.output ?? null) as string | undefined;
  if (output !== undefined && PLAIN.test(runId) && PLAIN.test(pipeline)) return { status: 200, body: `{"run_id":"${runId}","pipeline":"${pipeline}","output":${output}}` };
  return { status: 200, body: JSON.stringify({ run_id: runId, pipeline, output: end.output ?? null }) };
}

export function jsonAnswerOfRun(run: Run): { status: number; body: string } {
  return jsonAnswer(run.id, run.pipeline, run.status === 'completed' ? { output: run.output } : { failure: run.failure! });
}

/**
 * A JSON-mode run (started by `executeRun`): answered when it ends — in the same tick for a runner
 * that answers synchronously (echo without delay), with no listener of any kind. A client that
 * leaves first stops a foreground run.
 */
export function jsonRun(res: ServerResponse, state: RunState, sendJson: SendJson, logRequest: LogRequest): void {
  const run = state.run;
  const headers = { [EXPIRATION_HEADER]: state.expiration, [RUN_ID_HEADER]: run.id };
  const answer = () => {
    if (res.destroyed || res.headersSent) return logRequest(state.started, 499, state.tokenId, state.slug, outcomeOf(run));
    const { status, body } = jsonAnswerOfRun(run);
    sendJson(res, status, body, headers, state.started, state.tokenId, state.slug);
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

/** An SSE run (started by `executeRun`), followed from its first event; see RunStream. */
export function streamRun(res: ServerResponse, state: RunState, logRequest: LogRequest): void {
  const run = state.run;
  const stream = new RunStream(res, run, {
    headers: { [EXPIRATION_HEADER]: state.expiration },
    tokenId: state.tokenId,
    expiresAt: state.expiresAt,
    registry: state.streams,
    retryMs: state.retryMs,
    stopsRunOnClose: !run.background,
    onClosed: (clientGone) => logRequest(state.started, clientGone ? 499 : 200, state.tokenId, state.slug, clientGone ? 'client_gone' : outcomeOf(run)),
  });
  stream.open(0);
}

/** Headers of an answer given again for an idempotency key. */
export function replayHeaders(expiration: string, runId: string): Record<string, string> {
  return { [EXPIRATION_HEADER]: expiration, [RUN_ID_HEADER]: runId, [REPLAYED_HEADER]: 'true' };
}

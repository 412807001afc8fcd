import type { PipelineConfig, PipelineKind } from '../apps/pipeline-config';
import { AppError } from '../errors';
import { RunAborted } from './abort';
import { commandRunner } from './command';
import { echoRunner } from './echo';
import { runFailure } from './failure';
import { httpRunner } from './http';
import { openaiRunner } from './openai';
import type { PipelineRunner, RunContext, RunInput } from './types';

export { RunAborted } from './abort';
export { describeRunFailure, GENERIC_FAILURE_MESSAGE, type RunFailure } from './failure';
export type { PipelineRunner, RunContext, RunInput } from './types';

export const RUNNERS: { [K in PipelineKind]: PipelineRunner<K> } = {
  echo: echoRunner,
  command: commandRunner,
  http: httpRunner,
  openai: openaiRunner,
};

/** A pipeline to run: its kind and its (already validated) config. */
export interface RunnablePipeline {
  kind: PipelineKind;
  config: PipelineConfig;
}

/**
 * The control of one run: its abort signal, created only when something reads it (a runner that
 * answers synchronously never does), and `abort(reason)`.
 */
export class RunControl implements RunContext {
  private controller: AbortController | undefined;

  constructor(readonly onDelta: (text: string) => void) {}

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? false;
  }

  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Starts a pipeline run: answers the output directly when the runner answered synchronously,
 * otherwise a promise, with the same outcomes as `runPipeline`. Synchronous failures are thrown.
 */
export function startRun(pipeline: RunnablePipeline, input: RunInput, ctx: RunContext): unknown {
  const runner = RUNNERS[pipeline.kind] as PipelineRunner;
  const timeoutMs = (pipeline.config as { timeout_ms?: number }).timeout_ms ?? runner.defaultTimeoutMs;
  if (timeoutMs === undefined) {
    let result: unknown;
    try {
      result = runner.run(pipeline.config, input, ctx);
    } catch (error) {
      throw wrapFailure(error);
    }
    return isPromise(result) ? guard(result, ctx) : result;
  }
  return runWithTimeout(runner, timeoutMs, pipeline, input, ctx);
}

/**
 * Runs a pipeline with its timeout (`config.timeout_ms`, else the kind's default). Resolves to the
 * output; rejects with AppError `pipeline_timeout` when the time ran out, the runner's AppError
 * (`pipeline_failed`, `validation_failed`) when it failed, or — when `ctx.signal` aborted — the
 * signal's reason (the caller decides what an abort means). Unexpected errors become
 * `pipeline_failed`. The runner is always stopped (process killed, request cancelled) before this
 * settles on a timeout or abort.
 */
export async function runPipeline(pipeline: RunnablePipeline, input: RunInput, ctx: RunContext): Promise<unknown> {
  return startRun(pipeline, input, ctx);
}

async function runWithTimeout(runner: PipelineRunner, timeoutMs: number, pipeline: RunnablePipeline, input: RunInput, ctx: RunContext): Promise<unknown> {
  const outer = ctx.signal;
  const controller = new AbortController();
  const timedOut = new RunAborted('timeout');
  const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
  const forward = () => controller.abort(outer.reason);
  if (outer.aborted) forward();
  else outer.addEventListener('abort', forward, { once: true });
  const inner: RunContext = { signal: controller.signal, onDelta: ctx.onDelta };
  try {
    return await guard(Promise.resolve().then(() => runner.run(pipeline.config, input, inner)), inner);
  } catch (error) {
    if (controller.signal.reason === timedOut && !outer.aborted) {
      throw new AppError('pipeline_timeout', `the pipeline did not finish within ${timeoutMs} ms (its timeout_ms)`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', forward);
  }
}

function wrapFailure(error: unknown): unknown {
  if (error instanceof AppError) return error;
  // A runner's unexpected error text is internal: the caller gets the generic message.
  return runFailure(`the pipeline failed: ${(error as Error)?.message ?? String(error)}`);
}

async function guard(run: Promise<unknown>, ctx: RunContext): Promise<unknown> {
  try {
    return await run;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    throw wrapFailure(error);
  }
}

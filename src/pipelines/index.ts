import type { PipelineConfig, PipelineKind } from '../apps/pipeline-config';
import { AppError } from '../errors';
import { RunAborted } from './abort';
import { commandRunner } from './command';
import { echoRunner } from './echo';
import { httpRunner } from './http';
import { openaiRunner } from './openai';
import type { PipelineRunner, RunContext, RunInput } from './types';

export { RunAborted } from './abort';
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
 * Runs a pipeline with its timeout (`config.timeout_ms`, else the kind's default). Resolves to the
 * output; rejects with AppError `pipeline_timeout` when the time ran out, the runner's AppError
 * (`pipeline_failed`, `validation_failed`) when it failed, or — when `ctx.signal` aborted — the
 * signal's reason (the caller decides what an abort means). Unexpected errors become
 * `pipeline_failed`. The runner is always stopped (process killed, request cancelled) before this
 * settles on a timeout or abort.
 */
export async function runPipeline(pipeline: RunnablePipeline, input: RunInput, ctx: RunContext): Promise<unknown> {
  const runner = RUNNERS[pipeline.kind] as PipelineRunner;
  const timeoutMs = (pipeline.config as { timeout_ms?: number }).timeout_ms ?? runner.defaultTimeoutMs;
  if (timeoutMs === undefined) return guard(runner.run(pipeline.config, input, ctx), ctx.signal);
  const controller = new AbortController();
  const timedOut = new RunAborted('timeout');
  const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
  const forward = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) forward();
  else ctx.signal.addEventListener('abort', forward, { once: true });
  try {
    return await guard(runner.run(pipeline.config, input, { signal: controller.signal, onDelta: ctx.onDelta }), controller.signal);
  } catch (error) {
    if (controller.signal.reason === timedOut && !ctx.signal.aborted) {
      throw new AppError('pipeline_timeout', `the pipeline did not finish within ${timeoutMs} ms (its timeout_ms)`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', forward);
  }
}

async function guard(run: Promise<unknown>, signal: AbortSignal): Promise<unknown> {
  try {
    return await run;
  } catch (error) {
    if (signal.aborted || error instanceof AppError) throw error;
    throw new AppError('pipeline_failed', `the pipeline failed: ${(error as Error)?.message ?? String(error)}`);
  }
}

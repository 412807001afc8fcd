import type { PipelineConfig, PipelineKind } from '../apps/pipeline-config';

/** What a runner gets besides its config and input. */
export interface RunContext {
  /** Aborted when the client goes away, the token is revoked, the server stops or the run times out. */
  signal: AbortSignal;
  /** Called for each piece of streamed text (a `message.delta`). */
  onDelta(text: string): void;
}

/** The trigger's JSON body. */
export type RunInput = Record<string, unknown>;

/**
 * One pipeline kind. `run` resolves to the run's output (any JSON value) or rejects with an
 * AppError: `pipeline_failed` made by `runFailure(detail)` (a generic message for the caller, the
 * internal text in `details.detail`; see failure.ts), or `validation_failed` / `invalid_json` for an
 * input it cannot take (a message for the caller); when `ctx.signal` aborts it must stop its work
 * (kill its process, cancel its request) and reject promptly. A runner that has nothing to wait
 * for may answer synchronously (a value, or a thrown AppError) and then should not read
 * `ctx.signal` at all: the signal is created lazily, and the trigger hot path skips the
 * AbortController, the timer and the promise hops for such runs.
 */
export interface PipelineRunner<K extends PipelineKind = PipelineKind> {
  readonly kind: K;
  /** The timeout applied when the config sets none (ms), or undefined for none. */
  readonly defaultTimeoutMs: number | undefined;
  run(config: PipelineConfig<K>, input: RunInput, ctx: RunContext): unknown;
}

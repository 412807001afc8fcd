import type { PipelineConfig } from '../apps/pipeline-config';
import { AppError, type ErrorCode } from '../errors';

/**
 * What the caller of a failed run is told when the pipeline's config does not say
 * `"expose_errors": true`. The internal detail (stderr tail, upstream status and body) may hold
 * paths, hostnames or an upstream's secrets, so it goes to the server log only.
 */
export const GENERIC_FAILURE_MESSAGE = 'the pipeline failed; the server log has the details';

/** What the caller of a run that failed for an unexpected reason (a bug) is told. */
const INTERNAL_FAILURE_MESSAGE = 'internal error; the server log has the details';

/**
 * The error a runner throws when its run failed: a caller-safe generic message, and the internal
 * `detail` for the server log (and for the caller only with `expose_errors`).
 *
 * Invariant: `detail` never holds a URL's query string or userinfo, a configured header's value, an
 * API key or a value of the config's `env` (see `redactSecrets`).
 */
export function runFailure(detail: string): AppError {
  return new AppError('pipeline_failed', GENERIC_FAILURE_MESSAGE, { detail });
}

/** A failed run as its caller and the server log see it. */
export interface RunFailure {
  /** The error code the caller gets (e.g. `pipeline_failed`, `pipeline_timeout`, `validation_failed`). */
  code: ErrorCode;
  /** What the caller sees: generic unless the config exposes errors or the message is the caller's own doing. */
  message: string;
  /** The internal text for the server log, or undefined when there is nothing beyond `message`. */
  detail: string | undefined;
}

/**
 * Describes a run's failure for its caller and for the log. An AppError thrown by a runner keeps its
 * code; its `details.detail` (the internal text) reaches the caller only when `config.expose_errors`
 * is true, otherwise the caller gets the generic message. Errors that are the caller's own doing
 * (e.g. `validation_failed`: "message: must be a string") and timeouts keep their message, which
 * names nothing internal. Anything that is not an AppError is a bug: code `internal`, generic message,
 * its text as the detail. With `runId`, the message ends with "(run run_…)", so that the caller can
 * quote it and the operator can find the log line.
 *
 * Call it only for a run that failed on its own; an abort (client gone, revoke, shutdown) is not a
 * failure to describe.
 */
export function describeRunFailure(error: unknown, config: PipelineConfig, runId?: string): RunFailure {
  const expose = (config as { expose_errors?: boolean }).expose_errors === true;
  let code: ErrorCode;
  let message: string;
  let detail: string | undefined;
  if (error instanceof AppError) {
    code = error.code;
    const internal = error.details?.detail;
    detail = typeof internal === 'string' ? internal : undefined;
    message = detail !== undefined && expose ? `the pipeline failed: ${detail}` : error.message;
  } else {
    code = 'internal';
    detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    message = expose ? `the pipeline failed unexpectedly: ${error instanceof Error ? error.message : String(error)}` : INTERNAL_FAILURE_MESSAGE;
  }
  if (runId !== undefined) message = `${message} (run ${runId})`;
  return { code, message, detail };
}

/** The shortest secret worth redacting: shorter values (e.g. "1", "yes") would garble the text. */
const MIN_SECRET_LENGTH = 6;

/**
 * `text` with each of `secrets` (configured header values, API keys, `env` values) replaced by
 * "[redacted]", for a failure detail that may quote an upstream body or stderr that echoes them.
 */
export function redactSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH) continue;
    if (result.includes(secret)) result = result.split(secret).join('[redacted]');
  }
  return result;
}

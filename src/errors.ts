/**
 * The one error vocabulary of mechamental. Domain code throws `AppError` with a stable `code`
 * and a sentence a person can act on; only `src/http/errors.ts` maps codes to HTTP statuses and
 * only the CLI maps them to exit codes. A message never contains a token value.
 */
export type ErrorCode =
  | 'usage'
  | 'validation_failed'
  | 'not_found'
  | 'conflict'
  | 'invalid_expiry'
  | 'token_not_active'
  | 'unauthorized'
  | 'invalid_request'
  | 'invalid_token'
  | 'token_revoked'
  | 'token_expired'
  | 'insufficient_scope'
  | 'ip_not_allowed'
  | 'pipeline_not_found'
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'rate_limited'
  | 'too_many_runs'
  | 'busy'
  | 'pipeline_failed'
  | 'pipeline_timeout'
  | 'shutting_down'
  | 'unavailable'
  | 'database_invalid'
  | 'database_too_new'
  | 'database_busy'
  | 'io_error'
  | 'internal'
  // the listener (docs/hardening-listener.md)
  | 'method_not_allowed'
  | 'misdirected_request'
  | 'request_timeout'
  | 'headers_too_large'
  | 'admin_on_loopback_only'
  | 'local_only'
  // runs (docs/runs.md)
  | 'run_not_found'
  | 'cancelled'
  | 'client_gone'
  | 'run_interrupted'
  | 'idempotency_key_mismatch'
  | 'idempotency_key_in_use'
  // the web console
  | 'csrf_rejected';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** A validation failure that names the offending field in its message. */
export function invalidField(field: string, problem: string): AppError {
  return new AppError('validation_failed', `${field}: ${problem}`, { field });
}

/** The first line of an error's message: what a one-line report on stderr shows (the log has the rest). */
export function firstLine(error: unknown): string {
  const text = isAppError(error) || error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

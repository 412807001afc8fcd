import { describeStorageError } from '../db/errors';
import { isAppError, type ErrorCode } from '../errors';

/**
 * The one mapping from the domain's error codes to HTTP statuses (domain code never knows HTTP).
 * Both the framework-free trigger handler and the Express admin API answer errors through here,
 * always as `{"error": {"code", "message"}}`.
 */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  usage: 400,
  validation_failed: 422,
  not_found: 404,
  conflict: 409,
  invalid_expiry: 422,
  token_not_active: 409,
  unauthorized: 401,
  invalid_request: 400,
  invalid_token: 401,
  token_revoked: 401,
  token_expired: 401,
  insufficient_scope: 403,
  ip_not_allowed: 403,
  pipeline_not_found: 404,
  invalid_json: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  rate_limited: 429,
  too_many_runs: 429,
  busy: 503,
  pipeline_failed: 502,
  pipeline_timeout: 504,
  shutting_down: 503,
  unavailable: 503,
  database_invalid: 500,
  database_too_new: 500,
  database_busy: 503,
  io_error: 500,
  internal: 500,
  method_not_allowed: 405,
  misdirected_request: 421,
  request_timeout: 408,
  headers_too_large: 431,
  admin_on_loopback_only: 403,
  local_only: 403,
  run_not_found: 404,
  // A JSON caller whose run was cancelled (POST /v1/runs/:id/cancel) by someone else.
  cancelled: 409,
  // Never sent (the client is gone); the status the access log records for it.
  client_gone: 499,
  run_interrupted: 503,
  idempotency_key_mismatch: 422,
  idempotency_key_in_use: 409,
  csrf_rejected: 403,
};

/**
 * A trigger `POST` that carries `Last-Event-ID` is an EventSource reconnect: when it names no run
 * this token can resume, 409 (SPEC), not the 404 of `GET /v1/runs/:id`.
 */
export const RECONNECT_NOT_FOUND_STATUS = 409;

export function statusFor(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface HttpError {
  status: number;
  code: ErrorCode;
  message: string;
}

const TOKEN_VALUE = /mm_(?:tok|adm)_[0-9A-Za-z]*/g;

/** Removes anything that looks like a token value from text that goes to a client or a log. */
export function scrubSecrets(text: string): string {
  return text.replace(TOKEN_VALUE, 'mm_…');
}

/**
 * Any thrown value as an HTTP error. AppErrors keep their code and message; anything else is a
 * 500 with a generic message (the details go to the log, not to the client).
 */
export function toHttpError(thrown: unknown): HttpError {
  const error = describeStorageError(thrown);
  if (isAppError(error)) return { status: statusFor(error.code), code: error.code, message: scrubSecrets(error.message) };
  return { status: 500, code: 'internal', message: 'internal error; the server log has the details' };
}

/** The JSON text of an error body; a failed run also names its run id. */
export function errorBody(code: ErrorCode, message: string, runId?: string): string {
  return JSON.stringify({ error: runId === undefined ? { code, message } : { code, message, run_id: runId } });
}

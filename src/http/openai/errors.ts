import type { ErrorCode } from '../../errors';
import { statusFor } from '../errors';

/**
 * OpenAI's error `type` for one of our statuses: what its SDKs and tools expect beside the status
 * (each SDK picks its error class by the status; the type is for people and logs).
 */
export function openAIErrorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * An error in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with our code and
 * message (and the run id, when a run failed): the same statuses and codes as the trigger.
 */
export function openAIErrorBody(code: ErrorCode | string, message: string, runId?: string, status = statusFor(code as ErrorCode)): string {
  const error: Record<string, unknown> = { message, type: openAIErrorType(status), param: null, code };
  if (runId !== undefined) error.run_id = runId;
  return JSON.stringify({ error });
}

/**
 * The trigger's error body (`{"error": {"code", "message", "run_id"?}}`, what an idempotency key
 * keeps) in OpenAI's shape.
 */
export function openAIErrorOf(status: number, triggerBody: string): string {
  try {
    const { error } = JSON.parse(triggerBody) as { error: { code: string; message: string; run_id?: string } };
    return openAIErrorBody(error.code, error.message, error.run_id, status);
  } catch {
    return openAIErrorBody('internal', 'internal error; the server log has the details', undefined, 500);
  }
}

import { AppError } from '../errors';
import { abortReason } from './abort';

/** The most of an upstream error body a failure message quotes. */
const BODY_TAIL_CHARS = 500;

/**
 * POSTs JSON with Node's built-in fetch; aborting `signal` cancels the request (and the body
 * being read). Network failures become `pipeline_failed` naming the URL's origin only (a URL may
 * hold credentials in its query); an abort rethrows the signal's reason.
 */
export async function postJson(url: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw abortReason(signal);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new AppError('pipeline_failed', `the upstream ${originOf(url)} could not be reached: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

/** Reads an error answer's text (its start) for the failure message. */
export async function upstreamFailure(response: Response, url: string, signal: AbortSignal): Promise<AppError> {
  let text = '';
  try {
    text = (await response.text()).trim();
  } catch {
    if (signal.aborted) throw abortReason(signal);
  }
  let detail = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof message === 'string') detail = message;
  } catch {
    // not JSON: quote the text
  }
  detail = detail.slice(0, BODY_TAIL_CHARS);
  return new AppError('pipeline_failed', `the upstream ${originOf(url)} answered ${response.status}${detail ? `: ${detail}` : ''}`);
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'URL';
  }
}

/** Rethrows an abort as its reason; wraps a body-reading failure as pipeline_failed. */
export function readFailure(error: unknown, url: string, signal: AbortSignal): unknown {
  if (signal.aborted) return abortReason(signal);
  if (error instanceof AppError) return error;
  return new AppError('pipeline_failed', `reading the answer of ${originOf(url)} failed: ${(error as Error).message}`);
}

import { AppError } from '../errors';
import { abortReason } from './abort';
import { redactSecrets, runFailure } from './failure';
import { serializeInput } from './input';

/**
 * The most bytes read from one upstream answer (16 MiB), JSON, SSE or error body alike. Beyond it
 * the run fails with `pipeline_failed` and the rest is never read, so a hostile or broken upstream
 * cannot grow the server's memory: the answer is counted while it streams in, never read whole first.
 */
export const MAX_UPSTREAM_BYTES = 16 * 1_048_576;

/** The most redirects followed for one request, all within the origin of the configured URL. */
export const MAX_REDIRECTS = 5;

/** The most of an upstream error body a failure detail quotes, and the most of it that is read. */
const BODY_TAIL_CHARS = 500;
const ERROR_BODY_READ_BYTES = 64 * 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * What a runner knows about its upstream request, for failure details: the URL (only its origin is
 * ever quoted: a query or even a path may hold credentials) and the secret values (configured
 * header values, API key) to redact from a quoted upstream body.
 */
export interface Upstream {
  url: string;
  secrets: string[];
}

/**
 * POSTs JSON with Node's built-in fetch; aborting `signal` cancels the request (and the body being
 * read). Redirects are followed by hand, at most MAX_REDIRECTS and only within the origin of
 * `upstream.url`: a redirect to another origin fails the run before anything (least of all the
 * configured headers) is sent there. 307/308 repeat the POST with its body; 301/302/303 continue
 * with a GET without a body, as fetch does (RFC 9110 §15.4). Network failures become
 * `pipeline_failed`; an abort rethrows the signal's reason.
 */
export async function postJson(upstream: Upstream, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  // Serialised once, before anything is sent; a failure here is the input's (e.g. too deep).
  const payload = serializeInput(body);
  const origin = originOf(upstream.url);
  let url = upstream.url;
  let method = 'POST';
  let requestBody: string | undefined = payload;
  let requestHeaders: Record<string, string> = { 'content-type': 'application/json', ...headers };
  for (let redirects = 0; ; redirects++) {
    let response: Response;
    try {
      response = await fetch(url, { method, headers: requestHeaders, body: requestBody, signal, redirect: 'manual' });
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw runFailure(`the upstream ${origin} could not be reached: ${cause?.code ?? withoutUrls(cause?.message ?? (error as Error).message)}`);
    }
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return response;
    // A redirect's own body is never read.
    await response.body?.cancel().catch(() => {});
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw runFailure(`the upstream ${origin} answered ${response.status} with an invalid Location`);
    }
    if (next.origin !== origin) {
      throw runFailure(`the upstream ${origin} answered ${response.status}, a redirect to another origin (${next.origin}); only redirects within ${origin} are followed`);
    }
    if (redirects === MAX_REDIRECTS) throw runFailure(`the upstream ${origin} redirected more than ${MAX_REDIRECTS} times`);
    if (response.status === 303 ? method !== 'HEAD' : (response.status === 301 || response.status === 302) && method === 'POST') {
      method = 'GET';
      requestBody = undefined;
      requestHeaders = withoutContentHeaders(requestHeaders);
    }
    url = next.href;
  }
}

/** The headers without those that describe a request body (fetch drops them when a redirect drops the body). */
function withoutContentHeaders(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^content-(?:type|encoding|language|location|length)$/i.test(name)) result[name] = value;
  }
  return result;
}

/**
 * Reads an answer's body to its end, at most `limit` bytes: an answer that declares (Content-Length)
 * or turns out to be longer fails the run with `pipeline_failed`, and reading stops there (the
 * request is cancelled). Memory used is bounded by `limit`.
 */
export async function readCapped(response: Response, upstream: Upstream, signal: AbortSignal, limit = MAX_UPSTREAM_BYTES): Promise<Buffer> {
  const tooLarge = () => runFailure(`the answer of ${originOf(upstream.url)} is larger than ${limit} bytes, the most an upstream answer may have`);
  const declared = Number(response.headers.get('content-length') ?? '');
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (error) {
    throw readFailure(error, upstream, signal);
  } finally {
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size);
}

/**
 * Reads up to the first ERROR_BODY_READ_BYTES of an error answer (the rest is never read) and
 * turns it into the run's failure: the generic message, with the upstream's status and the start of
 * its message as the detail (secrets redacted).
 */
export async function upstreamFailure(response: Response, upstream: Upstream, signal: AbortSignal): Promise<AppError> {
  let text = '';
  if (response.body) {
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (size < ERROR_BODY_READ_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
      }
    } catch {
      if (signal.aborted) throw abortReason(signal);
    } finally {
      await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
    text = Buffer.concat(chunks, size).subarray(0, ERROR_BODY_READ_BYTES).toString('utf8').trim();
  }
  let quoted = text;
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (typeof message === 'string') quoted = message;
  } catch {
    // not JSON (or cut short): quote the text
  }
  quoted = redactSecrets(quoted.slice(0, BODY_TAIL_CHARS), upstream.secrets);
  return runFailure(`the upstream ${originOf(upstream.url)} answered ${response.status}${quoted ? `: ${quoted}` : ''}`);
}

/** The origin of a URL (scheme, host, port): never its userinfo, path or query, which may hold credentials. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'URL';
  }
}

/** Rethrows an abort as its reason; keeps an AppError; wraps a body-reading failure as pipeline_failed. */
export function readFailure(error: unknown, upstream: Upstream, signal: AbortSignal): unknown {
  if (signal.aborted) return abortReason(signal);
  if (error instanceof AppError) return error;
  return runFailure(`reading the answer of ${originOf(upstream.url)} failed: ${withoutUrls((error as Error).message)}`);
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi;

/** `text` (an error message of fetch, say) with each URL in it cut down to its origin. */
function withoutUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => originOf(url));
}

/**
 * The secret values among request headers, for redaction: each value, and for a credential with a
 * scheme ("Bearer sk-…") also the credential alone, which an upstream may echo without the scheme.
 */
export function headerSecrets(headers: Record<string, string> | undefined): string[] {
  const secrets: string[] = [];
  for (const value of Object.values(headers ?? {})) {
    secrets.push(value);
    const space = value.indexOf(' ');
    if (space !== -1) secrets.push(value.slice(space + 1).trim());
  }
  return secrets;
}

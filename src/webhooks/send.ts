import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { WebhookAddressPolicy } from '../config';
import { isAppError } from '../errors';
import { VERSION } from '../version';
import { resolveAllowed } from './url-policy';

/** The most of a receiver's answer that is read (the status decides; the body only helps diagnose). */
export const MAX_RESPONSE_BYTES = 64 * 1024;
/** How much of a failed answer's body is kept with the attempt. */
const KEPT_BODY_CHARS = 200;

/** How an attempt ended, as the metrics label it. */
export type AttemptOutcome = 'delivered' | 'http_status' | 'timeout' | 'network' | 'address_refused' | 'dns';

export interface AttemptResult {
  outcome: AttemptOutcome;
  /** The receiver's HTTP status, when it answered. */
  status: number | null;
  /** Why it failed, for people (null when delivered). Never holds the secret or the signature. */
  error: string | null;
  durationMs: number;
}

export interface SendRequest {
  url: string;
  /** The headers to send besides Content-Type and User-Agent (the Standard Webhooks ones). */
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  policy: WebhookAddressPolicy;
  signal?: AbortSignal;
}

/**
 * POSTs one webhook: resolves the host and checks the addresses against the policy, connects to
 * exactly the checked address (TLS still verifies the certificate against the host name), never
 * follows a redirect, gives up after `timeoutMs` for the whole exchange, and reads at most
 * MAX_RESPONSE_BYTES of the answer. A 2xx answer is a delivery; anything else is a failed attempt
 * described in `error`. Never throws.
 */
export async function sendWebhook(request: SendRequest): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(request.url);
  let checked;
  try {
    checked = await resolveAllowed(url.hostname, request.policy);
  } catch (error) {
    const message = isAppError(error) ? error.message : String(error);
    return { outcome: isAppError(error) && error.code === 'validation_failed' ? 'address_refused' : 'dns', status: null, error: message, durationMs: elapsed() };
  }
  const pinned: LookupFunction = (_hostname, options, callback) => {
    // Node asks for every address (`all`) when it may race IPv4 and IPv6; either way, only the checked one.
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [checked]);
    else callback(null, checked.address, checked.family);
  };
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      resolve({ ...result, durationMs: elapsed() });
    };
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, {
      method: 'POST',
      agent: false,
      lookup: pinned,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': `mechamental-webhooks/${VERSION}`,
        'Content-Length': String(Buffer.byteLength(request.body)),
        ...request.headers,
      },
    });
    const timer = setTimeout(() => {
      finish({ outcome: 'timeout', status: null, error: `no answer within ${request.timeoutMs} ms (MM_WEBHOOK_TIMEOUT)` });
      req.destroy();
    }, request.timeoutMs);
    timer.unref();
    const onAbort = () => {
      finish({ outcome: 'network', status: null, error: 'the attempt was cut short: this server is stopping' });
      req.destroy();
    };
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error: NodeJS.ErrnoException) => {
      finish({ outcome: 'network', status: null, error: `${error.code ?? 'error'}: ${error.message}`.slice(0, 300) });
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let kept = '';
      let read = 0;
      const done = () => {
        if (status >= 200 && status < 300) return finish({ outcome: 'delivered', status, error: null });
        const hint = status >= 300 && status < 400 ? ` (redirects are not followed: set the webhook to the final URL)` : '';
        const body = kept.replace(/\s+/g, ' ').trim();
        finish({ outcome: 'http_status', status, error: `the receiver answered ${status}${hint}${body ? `: ${body.slice(0, KEPT_BODY_CHARS)}` : ''}` });
      };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (kept.length < KEPT_BODY_CHARS) kept += chunk.toString('utf8', 0, Math.min(chunk.length, KEPT_BODY_CHARS));
        if (read > MAX_RESPONSE_BYTES) {
          // The status is known; the rest of an oversized answer is not worth reading.
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end(request.body);
  });
}

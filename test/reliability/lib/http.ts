// A small loopback HTTP client for the reliability runs: one connection per request (no agent,
// so nothing is kept open behind the measurements), optional abort, optional SSE parsing.
import http from 'node:http';

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** SSE event names, in order (when the answer was an event stream). */
  events: string[];
  aborted: boolean;
}

export interface RequestOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Destroy the request after this long (a client that goes away). */
  abortAfterMs?: number;
  timeoutMs?: number;
  /** Called as soon as the status line and headers arrive. */
  onHeaders?: (status: number) => void;
}

export function request(port: number, options: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let body = '';
    const finish = (aborted: boolean, error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(abortTimer);
      clearTimeout(timeoutTimer);
      if (error && !aborted) return reject(error);
      const events = [...body.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]!);
      resolve({ status, body, headers, events, aborted });
    };
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers,
      agent: false,
    });
    const abortTimer = options.abortAfterMs === undefined ? undefined : setTimeout(() => {
      req.destroy();
      finish(true);
    }, options.abortAfterMs);
    const timeoutTimer = setTimeout(() => {
      req.destroy();
      finish(false, new Error(`no complete answer to ${options.method ?? 'GET'} ${options.path} within ${options.timeoutMs ?? 30_000} ms`));
    }, options.timeoutMs ?? 30_000);
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      options.onHeaders?.(status);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => finish(false));
      res.on('error', (error) => finish(false, error));
      res.on('aborted', () => finish(false, new Error('the server aborted the answer')));
    });
    req.on('error', (error) => finish(false, error));
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** JSON POST/GET with a bearer token; answers the parsed body too. */
export async function api(port: number, method: string, path: string, token: string, payload?: unknown): Promise<Answer & { json: any }> {
  const answer = await request(port, {
    method,
    path,
    headers: {
      authorization: `Bearer ${token}`,
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  return { ...answer, json };
}

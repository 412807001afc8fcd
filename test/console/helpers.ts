import assert from 'node:assert/strict';
import http from 'node:http';
import { after } from 'node:test';
import { request, type Reply } from '../helpers/server';

export interface ConsoleSignIn {
  /** `name=value`, for a Cookie header. */
  cookie: string;
  /** The whole Set-Cookie line the server sent. */
  setCookie: string;
  csrf: string;
  body: Record<string, unknown>;
}

/** Signs in over HTTP as a same-origin browser would (Origin = the server's own), with an admin token value or a code. */
export async function signIn(base: string, credential: { token: string } | { code: string }, headers: Record<string, string> = {}): Promise<ConsoleSignIn> {
  const reply = await request(`${base}/console/api/sign-in`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: base, ...headers }, body: credential });
  assert.equal(reply.status, 200, reply.body);
  const setCookie = String(reply.headers['set-cookie']?.[0] ?? '');
  const body = reply.json<{ session: { csrf_token: string } } & Record<string, unknown>>();
  return { cookie: setCookie.split(';')[0]!, setCookie, csrf: body.session.csrf_token, body };
}

/** A request with the session's cookie; for changes, also a same-origin Origin and the CSRF token unless `headers` say otherwise. */
export function withSession(base: string, session: ConsoleSignIn, path: string, options: { method?: string; body?: object; headers?: Record<string, string | undefined> } = {}): Promise<Reply> {
  const method = options.method ?? 'GET';
  const defaults: Record<string, string> = method === 'GET' ? {} : { Origin: base, 'X-CSRF-Token': session.csrf };
  const merged: Record<string, string> = { Cookie: session.cookie, ...defaults, ...(options.body ? { 'Content-Type': 'application/json' } : {}) };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return request(`${base}${path}`, { method, headers: merged, ...(options.body ? { body: options.body } : {}) });
}

/** An open event stream (GET), recording its text as it arrives. */
export class EventStream {
  text = '';
  status = 0;
  ended = false;
  private req: http.ClientRequest;
  readonly ready: Promise<void>;

  constructor(url: string, headers: Record<string, string>) {
    this.req = http.get(url, { headers, agent: false });
    this.ready = new Promise((resolve, reject) => {
      this.req.on('response', (res) => {
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (this.text += chunk));
        res.on('close', () => (this.ended = true));
        resolve();
      });
      this.req.on('error', (error) => (this.ended ? resolve() : reject(error)));
    });
    after(() => this.close());
  }

  count(event: string): number {
    return this.text.split(`event: ${event}\n`).length - 1;
  }

  close(): void {
    this.ended = true;
    this.req.destroy();
  }
}

import assert from 'node:assert/strict';
import http from 'node:http';
import { after } from 'node:test';
import type { ManualClock } from '../../src/clock';
import type { Config } from '../../src/config';
import { startServer, type RunningServer, type ServerOptions } from '../../src/http/server';
import type { Services } from '../../src/services';
import { testServices } from './services';

/** A log sink that keeps every line pino writes, for "this never appears in a log" checks. */
export class LogCapture {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  get text(): string {
    return this.lines.join('');
  }
  /** The parsed JSON lines. */
  entries(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface TestServer {
  services: Services & { clock: ManualClock; config: Config };
  server: RunningServer;
  url: string;
  logs: LogCapture;
}

/**
 * The real server (trigger handler + Express app) on 127.0.0.1, port 0, over real services on a
 * fresh SQLite file (testServices: ManualClock starting at the real now), or exactly the
 * PostgreSQL database `databaseUrl` (two servers on one URL are two instances); logs captured at
 * debug level. Closed after the test file.
 */
export async function startTestServer(
  options: { env?: NodeJS.ProcessEnv; dataDir?: string; databaseUrl?: string; server?: Partial<ServerOptions> } = {},
): Promise<TestServer> {
  const services = await testServices({
    env: { MM_LOG_LEVEL: 'debug', ...options.env },
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
  });
  const logs = new LogCapture();
  const server = await startServer(services, { host: '127.0.0.1', port: 0, logStream: logs, revocationPollMs: 50, ...options.server });
  after(() => server.close());
  return { services, server, url: server.url, logs };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/**
 * One HTTP request with node:http (not fetch: fetch merges repeated headers, and some scenarios
 * need two Authorization header lines). Header values given as arrays are sent as repeated lines.
 */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer | object } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A table row in the manner of PocketBase's ApiScenario. */
export interface Scenario {
  name: string;
  method?: string;
  url: string;
  headers?: Record<string, string | string[]>;
  body?: string | object;
  status: number;
  /** Strings the body must contain, e.g. '"code":"invalid_token"'. */
  expect?: string[];
  /** Strings the body (and the headers) must not contain, e.g. the token value. */
  notExpect?: string[];
  /** Response headers: exact string, a RegExp, or null for "absent". */
  expectHeaders?: Record<string, string | RegExp | null>;
  /** Runs before the request (e.g. revoke a token). */
  before?: () => void | Promise<void>;
}

/** Runs one scenario against `base` and asserts everything it says. */
export async function runScenario(base: string, scenario: Scenario): Promise<Reply> {
  await scenario.before?.();
  const reply = await request(base + scenario.url, { method: scenario.method ?? 'GET', headers: scenario.headers ?? {}, ...(scenario.body === undefined ? {} : { body: scenario.body }) });
  const where = `${scenario.name}: ${scenario.method ?? 'GET'} ${scenario.url} → ${reply.status} ${reply.body}`;
  assert.equal(reply.status, scenario.status, where);
  for (const part of scenario.expect ?? []) assert.ok(reply.body.includes(part), `${where}\n  body lacks ${part}`);
  const headerText = JSON.stringify(reply.headers);
  for (const part of scenario.notExpect ?? []) {
    assert.ok(!reply.body.includes(part), `${where}\n  body must not contain ${part}`);
    assert.ok(!headerText.includes(part), `${where}\n  headers must not contain ${part}`);
  }
  for (const [name, want] of Object.entries(scenario.expectHeaders ?? {})) {
    const got = reply.headers[name.toLowerCase()];
    if (want === null) assert.equal(got, undefined, `${where}\n  header ${name} must be absent`);
    else if (want instanceof RegExp) assert.match(String(got), want, `${where}\n  header ${name}`);
    else assert.equal(got, want, `${where}\n  header ${name}`);
  }
  if (reply.status >= 400) {
    const parsed = reply.json<{ error?: { code?: unknown; message?: unknown } }>();
    assert.equal(typeof parsed.error?.code, 'string', `${where}\n  errors are {"error": {"code", "message"}}`);
    assert.equal(typeof parsed.error?.message, 'string', where);
  }
  return reply;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
}

/**
 * An SSE client over node:http that records the raw text and parsed events as they arrive, so a
 * test can wait for an event, then act (revoke, disconnect) and observe the end.
 */
export class SseClient {
  raw = '';
  events: SseEvent[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  readonly done: Promise<void>;
  private req!: http.ClientRequest;

  constructor(url: string, token: string, body: object, extraHeaders: Record<string, string> = {}) {
    this.done = new Promise((resolve, reject) => {
      this.req = http.request(url, {
        method: 'POST',
        agent: false,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'text/event-stream', ...extraHeaders },
      });
      this.req.on('response', (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          this.raw += chunk;
          this.events = parseEvents(this.raw);
        });
        res.on('end', () => {
          this.ended = true;
          resolve();
        });
        res.on('error', () => resolve());
        res.on('close', () => {
          this.ended = true;
          resolve();
        });
      });
      this.req.on('error', (error) => (this.ended ? resolve() : reject(error)));
      this.req.end(JSON.stringify(body));
    });
  }

  /** Waits until an event named `name` has arrived. */
  waitFor(name: string, timeoutMs = 5_000): Promise<SseEvent> {
    return eventually(() => this.events.find((e) => e.event === name), timeoutMs, `event ${name}`);
  }

  /** Goes away mid-stream, as a client that disconnects. */
  disconnect(): void {
    this.ended = true;
    this.req.destroy();
  }
}

export function parseEvents(raw: string): SseEvent[] {
  const blocks = raw.split('\n\n');
  blocks.pop(); // the part after the last blank line is not a complete event yet
  return blocks
    .filter((block) => block.trim() !== '' && !block.startsWith(':') && !/^retry: \d+$/.test(block))
    .map((block) => {
      const event: SseEvent = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ');
        if (colon === -1) continue;
        const field = line.slice(0, colon) as keyof SseEvent;
        event[field] = line.slice(colon + 2);
      }
      return event;
    });
}

/** A `mechamental serve` child process (the development entry point). */
export interface ServeProcess {
  child: import('node:child_process').ChildProcess;
  /** The address from the "listening on" line. */
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `mechamental serve --port 0 …args` on `dataDir` and waits for its "listening on" line
 * (or its exit, for tests of start-up failures: then `url` is empty). Killed after the test file.
 */
export async function spawnServe(dataDir: string, args: string[] = ['--port', '0'], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<ServeProcess> {
  const { spawn } = await import('node:child_process');
  const { cliEnv, devCommand, REPO_ROOT } = await import('./cli');
  const [program, ...rest] = devCommand();
  const child = spawn(program!, [...rest, 'serve', ...args], { cwd: REPO_ROOT, env: cliEnv({ MM_DATA_DIR: dataDir, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  after(() => {
    if (!done) child.kill('SIGKILL');
  });
  let url: string;
  try {
    url = await eventually(() => (done ? 'exited' : /listening on (https?:\/\/\S+)/.exec(stdout)?.[1]), timeoutMs, 'the server to listen');
  } catch (error) {
    throw new Error(`${(error as Error).message}; its stdout: ${stdout.slice(-1000)}; its stderr: ${stderr.slice(-1000)}`);
  }
  return { child, url: url === 'exited' ? '' : url, stdout: () => stdout, stderr: () => stderr, exited };
}

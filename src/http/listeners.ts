import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import type { ErrorCode } from '../errors';
import type { Logger } from '../log';
import type { Metrics } from './metrics';
import type { TlsMaterial } from './tls';

/** A listener: plain HTTP, or HTTPS when TLS files are configured. */
export type Listener = http.Server | https.Server;

/** Largest request line + headers (bytes); more is answered 431. Node's default, made explicit. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The bounds every listener enforces (see Config). */
export interface ListenerLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/**
 * The soft limit on open files of this process (`Max open files` in /proc/self/limits; Node raises
 * it to the hard limit at start), or undefined where that cannot be read (not Linux, unlimited).
 */
export function readOpenFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const line = fs
      .readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return soft !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The response a request listener parks on its socket, so that `clientError` knows whether the socket still allows an answer. */
const LAST_RESPONSE = Symbol('mechamental.lastResponse');
type MarkedSocket = Duplex & { [LAST_RESPONSE]?: http.ServerResponse };

/**
 * Notes `res` as the latest response on its socket (one property write, no allocation). Called by
 * the request listener for every request; `clientError` reads it.
 */
export function markResponse(req: http.IncomingMessage, res: http.ServerResponse): void {
  (req.socket as MarkedSocket)[LAST_RESPONSE] = res;
}

/** What `clientError` may do on a socket. */
const ANSWER = 0;
const CLOSE_NOW = 1;
const CLOSE_AFTER_ANSWER = 2;

/**
 * May a `clientError` answer be written on `socket`? Not while a complete request is still being
 * answered (a slow run, an SSE stream, bytes after a request in the same packet): that answer is
 * let finish, then the connection closes. Not after a request was answered before its body
 * arrived (the 401/413/415 the trigger gives at once: a second, unasked-for response would be read
 * as the answer to the client's next request), nor after an answer with `Connection: close`: the
 * connection closes at once. Yes when no request was seen yet, when the last exchange is over on a
 * connection kept alive, or while a handler still waits for the body (a slow upload → 408).
 */
function verdictFor(last: http.ServerResponse | undefined): typeof ANSWER | typeof CLOSE_NOW | typeof CLOSE_AFTER_ANSWER {
  if (last === undefined) return ANSWER;
  const requestDone = last.req.complete;
  if (!last.writableEnded && requestDone) return CLOSE_AFTER_ANSWER;
  if (!last.headersSent) return ANSWER; // the handler still waits for the body
  return last.writableEnded && requestDone && last.shouldKeepAlive ? ANSWER : CLOSE_NOW;
}

function rawAnswer(status: number, reason: string, code: ErrorCode, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Metrics of the listeners themselves (created once per Metrics registry). */
export class ListenerMetrics {
  readonly dropped: Counter<'listener'>;
  private readonly listeners = new Map<string, Listener>();

  constructor(metrics: Metrics) {
    this.dropped = new Counter({
      name: 'mechamental_http_connections_dropped_total',
      help: 'Connections closed at once because the listener had MM_MAX_CONNECTIONS open, by listener.',
      labelNames: ['listener'] as const,
      registers: [metrics.registry],
    });
    const listeners = this.listeners;
    new Gauge({
      name: 'mechamental_http_connections_open',
      help: 'Client connections open now, by listener.',
      labelNames: ['listener'] as const,
      registers: [metrics.registry],
      async collect() {
        for (const [name, server] of listeners) {
          const count = await new Promise<number>((resolve) => server.getConnections((error, n) => resolve(error ? 0 : n)));
          this.set({ listener: name }, count);
        }
      },
    });
  }

  watch(name: string, server: Listener): void {
    this.listeners.set(name, server);
  }
}

export interface CreateListenerOptions {
  /** `main` or `admin`: in logs and metrics. */
  name: string;
  limits: ListenerLimits;
  tls: TlsMaterial | null;
  logger: Logger;
  metrics: ListenerMetrics;
  onRequest: http.RequestListener;
}

/** How often, at most, a listener logs that it is dropping connections (ms). */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * A listener with the resource bounds of SPEC "Limits and hardening" and the answers of "HTTP
 * conformance":
 *
 * - at most `maxConnections` open connections: one more is closed as soon as it is accepted (it
 *   holds no descriptor), counted in `mechamental_http_connections_dropped_total` and logged at
 *   most once every 10 s;
 * - the request line and headers within `headersTimeoutMs`, the whole request within
 *   `requestTimeoutMs` (Node checks these every `connectionsCheckingInterval`; it is set to a
 *   quarter of the headers timeout, at most 1 s, so that a limit is kept to within a second),
 *   a TLS handshake within the headers timeout, idle keep-alive connections closed after
 *   `keepAliveTimeoutMs`;
 * - every protocol error answered, where the socket still allows it, as the JSON error body with
 *   `Connection: close`: 408 `request_timeout`, 431 `headers_too_large` (over 16 KiB),
 *   413 `payload_too_large` (chunk extensions), otherwise 400 `invalid_request`.
 *
 * The Host header is not required here (`requireHostHeader: false`): the request listener checks it
 * (host-check.ts) and answers with the JSON error body rather than Node's empty 400.
 */
export function createListener(options: CreateListenerOptions): Listener {
  const { limits, logger } = options;
  const serverOptions: http.ServerOptions = {
    noDelay: true,
    requireHostHeader: false,
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const server: Listener = options.tls
    ? https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: limits.headersTimeoutMs }, options.onRequest)
    : http.createServer(serverOptions, options.onRequest);
  // Expect: 100-continue reaches the same handlers, which send the 100 themselves once the request
  // passed every check that needs no body (see continue.ts), instead of Node sending it at once.
  server.on('checkContinue', options.onRequest);
  server.maxConnections = limits.maxConnections;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;

  const answers = {
    timeout: rawAnswer(
      408,
      'Request Timeout',
      'request_timeout',
      `the request did not arrive in time: the headers must arrive within ${seconds(limits.headersTimeoutMs)} (MM_HEADERS_TIMEOUT) and the whole request within ${seconds(limits.requestTimeoutMs)} (MM_REQUEST_TIMEOUT)`,
    ),
    headersTooLarge: rawAnswer(431, 'Request Header Fields Too Large', 'headers_too_large', `the request line and headers are larger than ${MAX_HEADER_BYTES / 1024} KiB`),
    tooLarge: rawAnswer(413, 'Payload Too Large', 'payload_too_large', 'the chunk extensions are too large'),
    invalid: rawAnswer(400, 'Bad Request', 'invalid_request', 'the request is not valid HTTP/1.1'),
  };
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const last = (socket as MarkedSocket)[LAST_RESPONSE];
    const verdict = verdictFor(last);
    if (verdict === CLOSE_AFTER_ANSWER) {
      // 'close' follows the end of the answer (or the loss of the connection).
      last!.once('close', () => socket.destroy());
      return;
    }
    if (verdict === CLOSE_NOW) {
      socket.destroy();
      return;
    }
    const answer =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? answers.timeout
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? answers.headersTooLarge
          : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? answers.tooLarge
            : answers.invalid;
    socket.end(answer);
  });
  if (options.tls) {
    // A failed handshake (a plain-HTTP client, a bad certificate on the client's side) is the client's problem: debug only.
    server.on('tlsClientError', (error: NodeJS.ErrnoException) => logger.debug({ listener: options.name, code: error.code }, 'TLS handshake failed'));
  }

  const dropped = options.metrics.dropped.labels(options.name);
  let droppedSinceLog = 0;
  let lastDropLog = -Infinity;
  server.on('drop', () => {
    dropped.inc();
    droppedSinceLog++;
    const now = performance.now();
    if (now - lastDropLog >= DROP_LOG_INTERVAL_MS) {
      logger.warn({ listener: options.name, dropped: droppedSinceLog, max_connections: limits.maxConnections }, 'connection limit reached: closing new connections (MM_MAX_CONNECTIONS)');
      lastDropLog = now;
      droppedSinceLog = 0;
    }
  });
  options.metrics.watch(options.name, server);
  return server;
}

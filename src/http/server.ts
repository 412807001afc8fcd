import http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DestinationStream } from 'pino';
import { BackgroundJobs, type BackgroundOptions } from '../background';
import { adminPortFor, defaultMaxConnections, DEFAULTS, type Config } from '../config';
import { AppError, firstLine } from '../errors';
import { Housekeeping } from '../housekeeping';
import { createLogger, type Logger } from '../log';
import type { Services } from '../services';
import { USAGE_FLUSH_INTERVAL_MS } from '../tokens/usage';
import { createApp } from './app';
import { ConsoleChangeFeed } from './console/change-feed';
import { errorBody } from './errors';
import { AllowedHosts, HOST_DUPLICATE, HOST_EMPTY, HOST_MISDIRECTED, HOST_MISSING, HOST_OK, isLoopbackHost, type HostVerdict } from './host-check';
import { createListener, ListenerMetrics, markResponse, readOpenFileLimit, type Listener, type ListenerLimits } from './listeners';
import { Metrics } from './metrics';
import { StreamRegistry } from './streams';
import { loadTlsMaterial, type TlsMaterial } from './tls';
import { createTriggerHandler, type TriggerHandler } from './trigger';

export interface ServerOptions {
  host: string;
  port: number;
  /**
   * The listener settings: limits, allowed hosts, the admin listener, TLS files (`host` and `port`
   * above win over its own). Default `services.config`.
   */
  config?: Config;
  /** Where logs go: a ready logger, or a stream for a new one (default stdout, level MM_LOG_LEVEL). */
  logger?: Logger;
  logStream?: DestinationStream;
  /** How often open streams' tokens are re-checked (ms); default 200. */
  revocationPollMs?: number;
  /** How often idle SSE streams get `: ping` (ms); default 15 000. */
  pingIntervalMs?: number;
  /** How often `last_used_at` is written (ms); default 5 000. */
  usageFlushMs?: number;
  /** How long `close` lets in-flight JSON runs finish before cutting connections (ms); default 10 000. */
  shutdownGraceMs?: number;
  /** The background jobs' intervals (webhook deliveries, expiry scan, pruning); see BackgroundOptions. */
  background?: Omit<BackgroundOptions, 'onError' | 'observe'>;
  /** The `retry:` every SSE answer sends first (ms); default 3000 (SPEC). Tests shorten it. */
  sseRetryMs?: number;
}

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** e.g. http://127.0.0.1:8080 (https://… with TLS) */
  url: string;
  /**
   * Where the admin API is served: `url` itself when the server listens on loopback; otherwise the
   * admin listener (MM_ADMIN_HOST, default 127.0.0.1; MM_ADMIN_PORT, default the main port + 1).
   */
  adminUrl: string;
  /** The main listener. */
  server: Listener;
  /** The admin listener, or null when the admin API is served on the main one. */
  adminServer: Listener | null;
  metrics: Metrics;
  logger: Logger;
  trigger: TriggerHandler;
  streams: StreamRegistry;
  /** Webhook deliveries, the expiry scan and pruning (started with the server, stopped by `close`). */
  background: BackgroundJobs;
  /** Is HTTPS on (--tls-cert/--tls-key)? */
  readonly tls: boolean;
  /**
   * Graceful stop: stops accepting, answers new requests 503, ends open SSE streams with
   * `run.failed` `shutting_down`, lets in-flight JSON runs finish (up to the grace period), flushes
   * `last_used_at`. Idempotent. Does not close `services` (the caller owns them).
   */
  close(): Promise<void>;
  /**
   * Immediate stop, for a server whose state can no longer be trusted (a failure after it began
   * listening): stops listening on every listener, cuts every connection, stops the timers. No
   * grace, no database writes. Idempotent; never throws.
   */
  abort(): void;
  /**
   * Reads the TLS files again and uses them for new connections (SIGHUP). On a bad file the old
   * certificate stays in use and an error is logged. Answers whether the new files are in use.
   */
  reloadTls(): boolean;
}

function urlFor(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** Binds `server`; rejects with a one-line AppError naming the address and, via `setting`, how to choose another. */
function listen(server: Listener, host: string, port: number, setting: { host: string; port: string }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${host}:${port}`;
      if (error.code === 'EADDRINUSE') {
        reject(new AppError('io_error', `cannot listen on ${where}: the port is already in use; stop the other process or choose another port with ${setting.port}`));
      } else if (error.code === 'EACCES') {
        reject(new AppError('io_error', `cannot listen on ${where}: permission denied; choose a port above 1023 with ${setting.port}`));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        reject(new AppError('io_error', `cannot listen on ${where}: no such address on this machine; choose another with ${setting.host}`));
      } else {
        reject(new AppError('io_error', `cannot listen on ${where}: ${error.message}`));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

const HOST_ANSWERS: Record<Exclude<HostVerdict, typeof HOST_OK>, { status: number; body: string; close: boolean }> = {
  [HOST_MISSING]: { status: 400, body: errorBody('invalid_request', 'an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)'), close: true },
  [HOST_DUPLICATE]: { status: 400, body: errorBody('invalid_request', 'the request carries more than one Host header; send exactly one'), close: true },
  [HOST_EMPTY]: { status: 400, body: errorBody('invalid_request', 'the Host header is empty'), close: true },
  [HOST_MISDIRECTED]: {
    status: 421,
    body: errorBody(
      'misdirected_request',
      'this server does not answer for the host named in the Host header (a guard against DNS rebinding); if the name is right, add it to MM_ALLOWED_HOSTS on the server',
    ),
    close: false,
  },
};

/**
 * Starts the server. On loopback (the default), one listener: the framework-free trigger handler
 * answers `POST /v1/trigger/*` and passes everything else to the Express app. Bound beyond
 * loopback, a second listener on MM_ADMIN_HOST:MM_ADMIN_PORT (default 127.0.0.1, the main port + 1)
 * serves the admin API, and the main one answers its paths 403 `admin_on_loopback_only`.
 *
 * Every request first passes the Host check (400 for a missing or duplicated Host, 421 for a host
 * this server does not answer for); every listener keeps the limits of `createListener`. With TLS
 * files configured, every listener speaks HTTPS. Rejects with a one-line AppError when a TLS file
 * is bad or an address cannot be bound (then nothing is left listening).
 */
export async function startServer(services: Services, options: ServerOptions): Promise<RunningServer> {
  const config = options.config ?? services.config;
  const logger = options.logger ?? createLogger({ level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) });
  let tls: TlsMaterial | null = config.tlsCertFile !== null && config.tlsKeyFile !== null ? loadTlsMaterial(config.tlsCertFile, config.tlsKeyFile) : null;
  const scheme = tls ? 'https' : 'http';
  const split = !isLoopbackHost(options.host);
  const requestedAdminPort = split ? adminPortFor(config, options.port) : 0;

  const openFiles = readOpenFileLimit();
  const limits: ListenerLimits = {
    maxConnections: config.maxConnections ?? defaultMaxConnections(openFiles),
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
  };
  // The admin listener serves a few operators; its own, smaller cap keeps a flood of the main one from locking them out.
  const adminLimits: ListenerLimits = { ...limits, maxConnections: Math.min(256, limits.maxConnections) };
  if (openFiles !== undefined && limits.maxConnections + (split ? adminLimits.maxConnections : 0) > openFiles - DEFAULTS.fdReserve) {
    logger.warn(
      { max_connections: limits.maxConnections, open_file_limit: openFiles },
      'MM_MAX_CONNECTIONS is close to or above the open-file limit: a flood of connections could leave no descriptor for the database and the runs; raise the limit (ulimit -n, LimitNOFILE=) or lower MM_MAX_CONNECTIONS',
    );
  }

  const metrics = new Metrics();
  const housekeeping = new Housekeeping(logger);
  const listenerMetrics = new ListenerMetrics(metrics);
  const streams = new StreamRegistry(services, { metrics, logger, pollIntervalMs: options.revocationPollMs ?? 200, pingIntervalMs: options.pingIntervalMs ?? 15_000 });
  const background = new BackgroundJobs(services, {
    ...options.background,
    onError: (error, job) => logger.error({ err: error, job }, 'background job failed'),
    observe: (outcome, seconds, gaveUp, attempt) => {
      metrics.observeWebhookAttempt(outcome, seconds, gaveUp);
      if (outcome === 'delivered') return;
      const entry = { delivery_id: attempt.deliveryId, webhook_id: attempt.webhookId, type: attempt.type, attempts: attempt.attempts, outcome, error: attempt.error };
      if (gaveUp) logger.error(entry, 'webhook delivery given up (see mechamental webhooks deliveries)');
      else logger.warn(entry, 'webhook delivery attempt failed; it will be retried');
    },
  });
  const trigger = createTriggerHandler(services, { logger, metrics, streams, ...(options.sseRetryMs === undefined ? {} : { sseRetryMs: options.sseRetryMs }) });

  let url = urlFor(scheme, options.host, options.port);
  let adminUrl = split ? urlFor(scheme, config.adminHost, requestedAdminPort) : url;
  const urls = { main: () => url, admin: () => adminUrl };
  const consoleFeed = new ConsoleChangeFeed(services, { logger });
  const appDeps = { logger, metrics, urls, streams, consoleFeed, ...(options.sseRetryMs === undefined ? {} : { sseRetryMs: options.sseRetryMs }) };
  const mainApp = createApp(services, { ...appDeps, surface: split ? 'public' : 'all' });
  const adminApp = split ? createApp(services, { ...appDeps, surface: 'admin' }) : null;

  const listenHosts = split ? [options.host, config.adminHost] : [options.host];
  // Until the ports are known (port 0), names are matched on any port by the slower path.
  let hosts = new AllowedHosts({ listenHosts, ports: [options.port, ...(split ? [requestedAdminPort] : [])].filter((p) => p !== 0), extra: config.allowedHosts });

  const refuseHost = (req: http.IncomingMessage, res: http.ServerResponse, verdict: Exclude<HostVerdict, typeof HOST_OK>) => {
    const answer = HOST_ANSWERS[verdict];
    res.writeHead(answer.status, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(answer.body)), ...(answer.close ? ['Connection', 'close'] : [])]);
    res.end(answer.body);
    metrics.countRequest('unmatched', req.method ?? 'GET', answer.status);
    // The Host value helps an operator fill MM_ALLOWED_HOSTS; it is cut short, and pino escapes it.
    logger.info({ method: req.method, route: 'unmatched', status: answer.status, host: req.headers.host?.slice(0, 100) ?? null }, 'request refused: Host');
  };
  const onMainRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    markResponse(req, res);
    const verdict = hosts.check(req.rawHeaders, req.httpVersionMinor === 1 && req.httpVersionMajor === 1);
    if (verdict !== HOST_OK) return refuseHost(req, res, verdict);
    if (!trigger(req, res)) mainApp(req, res);
  };
  const onAdminRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    markResponse(req, res);
    const verdict = hosts.check(req.rawHeaders, req.httpVersionMinor === 1 && req.httpVersionMajor === 1);
    if (verdict !== HOST_OK) return refuseHost(req, res, verdict);
    adminApp!(req, res);
  };

  const server = createListener({ name: 'main', limits, tls, logger, metrics: listenerMetrics, onRequest: onMainRequest });
  const adminServer = split ? createListener({ name: 'admin', limits: adminLimits, tls, logger, metrics: listenerMetrics, onRequest: onAdminRequest }) : null;
  const listeners = adminServer ? [server, adminServer] : [server];

  let aborted = false;
  const abort = () => {
    if (aborted) return;
    aborted = true;
    for (const listener of listeners) {
      try {
        listener.close();
        listener.closeAllConnections();
      } catch {
        // not listening: nothing to stop
      }
    }
    try {
      void streams.stop();
      consoleFeed.stop();
      services.usage.stop();
      background.halt();
      services.runs.stop();
    } catch {
      // abort never throws: it runs when something else already failed
    }
  };

  await listen(server, options.host, options.port, { host: '--host or MM_HOST', port: '--port or MM_PORT' });
  if (adminServer) {
    try {
      await listen(adminServer, config.adminHost, requestedAdminPort, { host: 'MM_ADMIN_HOST', port: 'MM_ADMIN_PORT' });
    } catch (error) {
      abort();
      throw new AppError('io_error', `the admin API's listener: ${(error as Error).message}`);
    }
  }
  const port = (server.address() as AddressInfo).port;
  const adminPort = adminServer ? (adminServer.address() as AddressInfo).port : port;
  url = urlFor(scheme, options.host, port);
  adminUrl = adminServer ? urlFor(scheme, config.adminHost, adminPort) : url;
  hosts = new AllowedHosts({ listenHosts, ports: adminServer ? [port, adminPort] : [port], extra: config.allowedHosts });

  try {
    for (const listener of listeners) listener.on('error', (error) => logger.error({ err: error }, 'server error'));
    streams.start();
    metrics.watchChangeFeed(() => streams.watching);
    services.runs.start((error, what) => logger.error({ err: error }, what));
    metrics.watchRuns(() => ({ count: services.runs.size, bytes: services.runs.bytes }));
    services.usage.start(options.usageFlushMs ?? USAGE_FLUSH_INTERVAL_MS, (error) => logger.error({ err: error }, 'writing last_used_at failed'));
    const retention = config.auditRetentionMs;
    if (retention !== null) housekeeping.add('audit retention', 3_600_000, () => services.audit.prune(retention));
    housekeeping.start();
    background.start();
  } catch (error) {
    // The listeners were up: close them, say why in the log and on stderr, and leave nothing behind.
    abort();
    logger.fatal({ err: error }, 'failed right after it began listening: stopped');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    throw new AppError('internal', `the server stopped right after it started: ${firstLine(error)}`);
  }
  logger.info({ url, ...(adminServer ? { admin_url: adminUrl } : {}), max_connections: limits.maxConnections, tls: tls !== null }, 'listening');
  const warnIfExpired = (material: TlsMaterial) => {
    if (material.validToMs < services.clock.now()) logger.warn({ cert: material.certFile, valid_to: material.validTo }, 'the TLS certificate has expired: clients will refuse it');
  };
  if (tls) warnIfExpired(tls);

  const reloadTls = (): boolean => {
    if (!tls) {
      logger.warn('SIGHUP: TLS is not configured (--tls-cert, --tls-key): nothing to reload');
      return false;
    }
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(tls.certFile, tls.keyFile);
      for (const listener of listeners) (listener as https.Server).setSecureContext({ cert: next.cert, key: next.key });
    } catch (error) {
      logger.error({ err_message: (error as Error).message, cert: tls.certFile, key: tls.keyFile }, 'TLS reload failed: the previous certificate stays in use');
      return false;
    }
    tls = next;
    logger.info({ cert: next.certFile, subject: next.subject, valid_to: next.validTo }, 'TLS certificate reloaded');
    warnIfExpired(next);
    return true;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ open_streams: streams.size, active_runs: trigger.activeRuns }, 'shutting down');
      trigger.beginShutdown();
      const closed = Promise.all(listeners.map((listener) => new Promise<void>((resolve) => listener.close(() => resolve()))));
      streams.endAll('shutting_down', 'the server is shutting down; retry shortly');
      consoleFeed.stop();
      // A monotonic deadline: wall-clock changes must not shorten or stretch the grace period.
      const deadline = performance.now() + (options.shutdownGraceMs ?? 10_000);
      let done = false;
      void closed.then(() => (done = true));
      while (!done && performance.now() < deadline) {
        for (const listener of listeners) listener.closeIdleConnections();
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      if (!done) {
        logger.warn({ active_runs: trigger.activeRuns }, 'grace period over: closing the remaining connections');
        for (const listener of listeners) listener.closeAllConnections();
        await closed;
      }
      // Runs still going after the grace (background ones, JSON ones cut off) end as shutting_down.
      services.runs.endAll('shutting_down', 'the server is shutting down; retry shortly');
      await streams.stop();
      await housekeeping.stop();
      await background.stop();
      services.usage.stop();
      services.runs.stop();
      try {
        await services.usage.flush();
      } catch (error) {
        logger.error({ err: error }, 'writing last_used_at at shutdown failed');
      }
      try {
        await services.runs.flush();
      } catch (error) {
        logger.error({ err: error }, 'writing runs to the database at shutdown failed');
      }
      logger.info('stopped');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    })();
    return closing;
  };

  return {
    port,
    url,
    adminUrl,
    server,
    adminServer,
    metrics,
    logger,
    trigger,
    streams,
    background,
    get tls() {
      return tls !== null;
    },
    close,
    abort,
    reloadTls,
  };
}

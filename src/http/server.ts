import { performance } from 'node:perf_hooks';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { AppError } from '../errors';
import { createLogger, type Logger } from '../log';
import type { Services } from '../services';
import { USAGE_FLUSH_INTERVAL_MS } from '../tokens/usage';
import { createApp } from './app';
import { Metrics } from './metrics';
import { StreamRegistry } from './streams';
import { createTriggerHandler, type TriggerHandler } from './trigger';

export interface ServerOptions {
  host: string;
  port: number;
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
}

export interface RunningServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  server: http.Server;
  metrics: Metrics;
  logger: Logger;
  trigger: TriggerHandler;
  streams: StreamRegistry;
  /**
   * Graceful stop: stops accepting, answers new requests 503, ends open SSE streams with
   * `run.failed` `shutting_down`, lets in-flight JSON runs finish (up to the grace period), flushes
   * `last_used_at`. Idempotent. Does not close `services` (the caller owns them).
   */
  close(): Promise<void>;
}

function urlFor(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Starts the server: one node:http listener on which the framework-free trigger handler answers
 * `POST /v1/trigger/*` and passes everything else to the Express app. Rejects with a one-line
 * AppError when the address cannot be bound (e.g. the port is in use).
 */
export async function startServer(services: Services, options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: services.config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) });
  const metrics = new Metrics();
  const streams = new StreamRegistry(services, { metrics, logger, pollIntervalMs: options.revocationPollMs ?? 200, pingIntervalMs: options.pingIntervalMs ?? 15_000 });
  const trigger = createTriggerHandler(services, { logger, metrics, streams });
  const app = createApp(services, { logger, metrics });
  const server = http.createServer({ noDelay: true }, (req, res) => {
    if (!trigger(req, res)) app(req, res);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
    const body = JSON.stringify({ error: { code: 'invalid_request', message: 'the request is not valid HTTP' } });
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      if (error.code === 'EADDRINUSE') {
        reject(new AppError('io_error', `cannot listen on ${where}: the port is already in use; stop the other process or choose another port with --port or MM_PORT`));
      } else if (error.code === 'EACCES') {
        reject(new AppError('io_error', `cannot listen on ${where}: permission denied; choose a port above 1023 with --port or MM_PORT`));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        reject(new AppError('io_error', `cannot listen on ${where}: no such address on this machine; choose another with --host or MM_HOST`));
      } else {
        reject(new AppError('io_error', `cannot listen on ${where}: ${error.message}`));
      }
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'server error'));

  streams.start();
  metrics.watchChangeFeed(() => streams.watching);
  services.usage.start(options.usageFlushMs ?? USAGE_FLUSH_INTERVAL_MS, (error) => logger.error({ err: error }, 'writing last_used_at failed'));
  const port = (server.address() as AddressInfo).port;
  const url = urlFor(options.host, port);
  logger.info({ url }, 'listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ open_streams: streams.size, active_runs: trigger.activeRuns }, 'shutting down');
      trigger.beginShutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      streams.endAll('shutting_down', 'the server is shutting down; retry shortly');
      // A monotonic deadline: wall-clock changes must not shorten or stretch the grace period.
      const deadline = performance.now() + (options.shutdownGraceMs ?? 10_000);
      let done = false;
      void closed.then(() => (done = true));
      while (!done && performance.now() < deadline) {
        server.closeIdleConnections();
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      if (!done) {
        logger.warn({ active_runs: trigger.activeRuns }, 'grace period over: closing the remaining connections');
        server.closeAllConnections();
        await closed;
      }
      await streams.stop();
      services.usage.stop();
      try {
        await services.usage.flush();
      } catch (error) {
        logger.error({ err: error }, 'writing last_used_at at shutdown failed');
      }
      logger.info('stopped');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    })();
    return closing;
  };

  return { port, url, server, metrics, logger, trigger, streams, close };
}

import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';

export type { Logger } from 'pino';

/** Loggers made by createLogger, whose line format `accessLogger` can reproduce exactly. */
const plainLoggers = new WeakMap<Logger, DestinationStream>();

/**
 * The one pino factory: JSON lines on stdout, written asynchronously (or on `stream`, e.g. a buffer
 * in tests).
 *
 * Invariant kept by every caller: no Authorization header, token value or raw query string is ever
 * passed to a logger. As a second line of defence, the usual places where such data would sit are
 * redacted here too.
 */
export function createLogger(options: { level?: Config['logLevel']; stream?: DestinationStream } = {}): Logger {
  // Asynchronous stdout: under load, lines written while a write is in flight are coalesced into
  // one syscall instead of one per request; `flush` (done at shutdown) writes what is pending.
  const destination = options.stream ?? pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'value'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  plainLoggers.set(logger, destination);
  return logger;
}

/** One access-log line: what the trigger path records per request. */
export interface AccessEntry {
  status: number;
  durationMs: number;
  tokenId: string | null;
  pipeline: string | null;
  outcome?: string | undefined;
}

/**
 * A writer of per-request lines `{"level":"info","time",…,"method","route","status","duration_ms",
 * "token_id","pipeline","outcome"?,"msg":"request"}` for the trigger hot path. For a logger made by
 * createLogger it builds the line itself, byte for byte as pino would, and writes it to pino's
 * destination: measured here, pino's generic serialisation cost ~6 µs of the ~45 µs a trigger
 * request takes, the hand-built line well under 1 µs. Any other logger gets `logger.info`.
 * The fields are ids, slugs, codes and numbers; strings still go through JSON.stringify.
 */
export function accessLogger(logger: Logger, method: string, route: string): (entry: AccessEntry) => void {
  const destination = plainLoggers.get(logger);
  if (destination === undefined) {
    return (entry) => {
      if (!logger.isLevelEnabled('info')) return;
      logger.info(
        { method, route, status: entry.status, duration_ms: round(entry.durationMs), token_id: entry.tokenId, pipeline: entry.pipeline, outcome: entry.outcome },
        'request',
      );
    };
  }
  const head = '{"level":"info","time":"';
  // Requests arrive many per millisecond under load: format each millisecond once.
  let lastMs = 0;
  let lastIso = '';
  const isoNow = () => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastIso = new Date(ms).toISOString();
    }
    return lastIso;
  };
  const middle = `","pid":${process.pid},"method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":`;
  return (entry) => {
    if (!logger.isLevelEnabled('info')) return;
    destination.write(
      `${head}${isoNow()}${middle}${entry.status},"duration_ms":${round(entry.durationMs)},"token_id":${entry.tokenId === null ? 'null' : JSON.stringify(entry.tokenId)},"pipeline":${entry.pipeline === null ? 'null' : JSON.stringify(entry.pipeline)}${entry.outcome === undefined ? '' : `,"outcome":${JSON.stringify(entry.outcome)}`},"msg":"request"}\n`,
    );
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

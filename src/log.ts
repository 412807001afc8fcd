import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';

export type { Logger } from 'pino';

/**
 * The one pino factory: JSON lines on stdout, written asynchronously (or on `stream`, e.g. a buffer
 * in tests).
 *
 * Invariant kept by every caller: no Authorization header, token value or raw query string is ever
 * passed to a logger. As a second line of defence, the usual places where such data would sit are
 * redacted here too.
 */
export function createLogger(options: { level?: Config['logLevel']; stream?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'value'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    // Asynchronous stdout: under load, lines written while a write is in flight are coalesced into
    // one syscall instead of one per request; `flush` (done at shutdown) writes what is pending.
    options.stream ?? pino.destination({ dest: 1, sync: false }),
  );
}

import fs from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config';

export type { Logger } from 'pino';

/** How much of the log may wait in memory before it is written (bytes; about 40 access lines). */
export const LOG_BUFFER_BYTES = 8192;
/** How long a line may wait in memory before it is written (ms): the most a kill -9 can lose. */
export const LOG_FLUSH_MS = 100;

/** What BufferedDestination writes to: pino's asynchronous stdout (sonic-boom). */
interface FlushableStream {
  write(chunk: string): unknown;
  flush(cb: (error?: Error) => void): void;
  flushSync(): void;
}

/** Buffered destinations still open, flushed synchronously when the process exits. */
const openBuffers = new Set<WeakRef<BufferedDestination>>();
let exitHookInstalled = false;

/**
 * Lines gathered in one string and handed on in one write once `maxBytes` (counted in UTF-16 units:
 * near enough, the lines are ASCII) have gathered or `flushMs` after the first pending line.
 * sonic-boom's own `minLength` buffering is not used: it measures the whole pending buffer's byte
 * length on every write (measured: slower than no buffering at all). Order is kept: every line of
 * the logger goes through here.
 */
class BufferedDestination {
  private pending = '';
  private scheduled = false;
  private readonly self = new WeakRef(this);

  constructor(
    private readonly target: FlushableStream,
    private readonly maxBytes: number,
    private readonly flushMs: number,
  ) {
    openBuffers.add(this.self);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // pino's exit hook has flushed the stream's own buffer by now (it was registered first):
      // what is still here goes after it, synchronously.
      process.on('exit', () => {
        for (const ref of openBuffers) ref.deref()?.writeSyncOnExit();
      });
    }
  }

  write(line: string): boolean {
    this.pending += line;
    if (this.pending.length >= this.maxBytes) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.onTimer, this.flushMs).unref();
    }
    return true;
  }

  private readonly onTimer = (): void => {
    this.scheduled = false;
    this.drain();
  };

  private drain(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = '';
    this.target.write(chunk);
  }

  /** pino's `logger.flush(cb)`: everything pending handed to the stream, then the stream's flush. */
  flush(cb: (error?: Error) => void): void {
    this.drain();
    this.target.flush(cb);
  }

  flushSync(): void {
    this.drain();
    this.target.flushSync();
  }

  private writeSyncOnExit(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending;
    this.pending = '';
    try {
      fs.writeSync(1, chunk);
    } catch {
      // stdout is gone: nothing left to tell
    }
  }
}

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
  // Buffered, asynchronous stdout: lines collect in memory and go out in one write once
  // LOG_BUFFER_BYTES have gathered or LOG_FLUSH_MS have passed, whichever comes first, instead of
  // one write syscall per request (measured: docs/benchmarks.md, "hot path steps"). Shutdown, a
  // fatal error and process exit flush what is pending (server.ts, cli/serve.ts, and pino's own
  // exit hook for the destination); a kill -9 loses at most the lines of the last LOG_FLUSH_MS,
  // and never more than LOG_BUFFER_BYTES of them.
  const destination = options.stream ?? new BufferedDestination(pino.destination({ dest: 1, sync: false }), LOG_BUFFER_BYTES, LOG_FLUSH_MS);
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

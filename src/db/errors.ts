import { DrizzleQueryError } from 'drizzle-orm/errors';
import { AppError, isAppError } from '../errors';

/**
 * Storage failures as the one error vocabulary. Repositories let driver errors through (drizzle wraps
 * them in a DrizzleQueryError whose `cause` is the driver's); the edges (HTTP, CLI, TUI) turn them into
 * AppErrors here, so that a person reads "the database is unavailable", never a driver's stack, and
 * the trigger path answers 503 `unavailable` instead of 500.
 */

/** The driver's own error inside drizzle's wrapper (or the error itself). */
export function driverError(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 4; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (!(current instanceof DrizzleQueryError) || cause === undefined) return current;
    current = cause;
  }
  return current;
}

function codeOf(error: unknown): string {
  const code = (driverError(error) as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** Is this a unique-constraint refusal (SQLite or PostgreSQL)? */
export function isUniqueViolationError(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Connection-level failures of the PostgreSQL driver (the server is down, restarting or unreachable). */
const PG_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * SQLSTATE classes that mean "the database cannot serve now" rather than "this request is wrong":
 * 08 connection exception, 53 insufficient resources (disk full, too many connections), 57 operator
 * intervention (shutdown, cancel), 58 system error, 40 transaction rollback (serialization, deadlock).
 */
const PG_UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58', '40']);

/**
 * Whether `error` is a failure of the storage itself (unreachable, locked too long, disk full,
 * I/O), as opposed to a bug or a refused write. Such failures are worth a retry later.
 */
export function isStorageUnavailable(error: unknown): boolean {
  const inner = driverError(error);
  const code = codeOf(inner);
  if (code.startsWith('SQLITE_')) {
    return /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB)/.test(code);
  }
  if (PG_CONNECTION_CODES.has(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && (inner as Error).name === 'PostgresError') return PG_UNAVAILABLE_CLASSES.has(code.slice(0, 2));
  return false;
}

/**
 * `error` as an AppError: AppErrors pass through; storage failures become `unavailable` with a
 * sentence for people (the driver's detail stays in `details.cause`, for the log only); anything
 * else is returned unchanged for the caller to treat as unexpected.
 */
export function describeStorageError(error: unknown): unknown {
  if (isAppError(error)) return error;
  if (!isStorageUnavailable(error)) return error;
  const code = codeOf(error);
  const why = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')
    ? 'the database stayed locked by another process'
    : code === 'SQLITE_FULL' || code === '53100'
      ? 'the disk holding the database is full'
      : code.startsWith('SQLITE_')
        ? `the database file cannot be used (${code})`
        : `the database does not answer (${code})`;
  return new AppError('unavailable', `${why}; try again shortly`, { cause: (driverError(error) as Error)?.message });
}

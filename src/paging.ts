import { AppError, invalidField } from './errors';

/**
 * Lists are paged by keyset (never OFFSET): a page answers at most `limit` rows and, when more
 * follow, an opaque `next_cursor` that names the last row given. The next page starts strictly after
 * that row in the listing's order, so paging is stable while rows are added or revoked: none is
 * skipped or given twice.
 */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

export interface Page<T> {
  items: T[];
  /** Where the next page starts, or null on the last page. */
  nextCursor: string | null;
  /**
   * For paging backwards (the TUI's window of rows; not part of the HTTP API): pass it as `before`
   * for the rows just before this page (newer ones), or null when none come before it.
   */
  prevCursor?: string | null;
}

/** A page size from a query parameter or option; 422 (naming the field) unless 1 to 1000. */
export function pageLimit(value: string | number | undefined, field = 'limit'): number {
  if (value === undefined || value === '') return DEFAULT_PAGE_LIMIT;
  const text = String(value).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PAGE_LIMIT) {
    throw invalidField(field, `must be a whole number from 1 to ${MAX_PAGE_LIMIT} (got "${text.slice(0, 20)}")`);
  }
  return n;
}

/** The opaque text of a cursor: its parts as base64url JSON. */
export function encodeCursor(parts: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * The parts of a cursor this server gave out, checked against `shape` ('s' string, 'n' integer);
 * anything else is 422 `validation_failed` on `cursor`.
 */
export function decodeCursor(text: string | undefined, shape: ReadonlyArray<'s' | 'n'>): Array<string | number> | undefined {
  if (text === undefined || text === '') return undefined;
  const refuse = (): never => {
    throw new AppError('validation_failed', 'cursor: is not a cursor of this list; pass the next_cursor of the previous page, unchanged', { field: 'cursor' });
  };
  if (text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) return refuse();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return refuse();
  }
  if (!Array.isArray(parts) || parts.length !== shape.length) return refuse();
  for (let i = 0; i < shape.length; i++) {
    const part = parts[i] as unknown;
    if (shape[i] === 's' ? typeof part !== 'string' || part.length > 200 : !Number.isSafeInteger(part)) return refuse();
  }
  return parts as Array<string | number>;
}

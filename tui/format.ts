import type { TokenCountFilter, TokenView } from '../src/tokens/service';
import { TOKEN_STATUSES, type TokenStatus } from '../src/tokens/status';
import { parseDuration } from '../src/duration';
import { AppError } from '../src/errors';
import { isUnused } from '../src/tokens/usage';

/** Text of any error for an inline message: an AppError's sentence as it is, anything else flagged. */
export function errorMessage(error: unknown): string {
  if (error instanceof AppError) return error.message;
  return `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

// How times are said lives in src/ui-text/ (shared with the CLI and the web console).
export { agoShort, relativeShort, shortSpan, shortTime } from '../src/ui-text/time';

/** Fits `text` into exactly `width` columns: cut with an ellipsis, or padded with spaces. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length > width) return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
  return text + ' '.repeat(width - chars.length);
}

/** Cuts `text` to at most `width` columns (no padding). */
export function clip(text: string, width: number): string {
  return fit(text, width).trimEnd();
}

const LIVE = new Set(['active', 'expiring']);

/**
 * The Tokens tab's order: tokens that still work first, soonest expiry first (what needs attention
 * leads); then expired and revoked ones, most recently ended first.
 */
export function sortTokens(tokens: readonly TokenView[]): TokenView[] {
  const endedAt = (t: TokenView) => Date.parse(t.revoked_at ?? t.expires_at);
  return [...tokens].sort((a, b) => {
    const liveA = LIVE.has(a.status);
    const liveB = LIVE.has(b.status);
    if (liveA !== liveB) return liveA ? -1 : 1;
    if (liveA) return Date.parse(a.expires_at) - Date.parse(b.expires_at) || a.name.localeCompare(b.name);
    return endedAt(b) - endedAt(a) || a.name.localeCompare(b.name);
  });
}

/** The default span of the `unused` filter. */
export const DEFAULT_UNUSED = '30d';

/**
 * The `unused` form of the `/` filter: `unused` (30 days), `unused:90d` or `unused 7d`, as
 * milliseconds; undefined for any other query (and for `unused:` with a span still being typed).
 */
export function unusedQuery(query: string): number | undefined {
  const match = /^unused(?:[:\s]\s*(\S*))?$/.exec(query.trim().toLowerCase());
  if (!match) return undefined;
  return parseDuration(match[1] || DEFAULT_UNUSED);
}

/**
 * The `/` filter: a token matches when its name contains the query, or its status or id starts
 * with it; `unused[:30d]` keeps the active tokens not used for that long (src/tokens/usage.ts isUnused).
 */
export function matchesFilter(token: TokenView, query: string, now: number): boolean {
  const q = query.trim().toLowerCase();
  if (q === '') return true;
  const unusedFor = unusedQuery(q);
  if (unusedFor !== undefined) {
    const at = (iso: string | null) => (iso === null ? null : Date.parse(iso));
    return isUnused({ revokedAt: at(token.revoked_at), expiresAt: Date.parse(token.expires_at), createdAt: Date.parse(token.created_at), lastUsedAt: at(token.last_used_at) }, now, unusedFor);
  }
  return token.name.toLowerCase().includes(q) || token.status.startsWith(q) || token.id.startsWith(q);
}

/**
 * The `/` filter as a query the database answers (the Tokens tab reads a window of the list, never
 * all of it): a status word (`active`, `expiring`, `expired`, `revoked`) filters by status,
 * `unused[:30d]` keeps the active tokens not used for that long, anything else finds the tokens
 * whose name contains the text (case-insensitive).
 */
export function tokenFilter(query: string): TokenCountFilter {
  const q = query.trim().toLowerCase();
  if (q === '') return {};
  const unusedFor = unusedQuery(q);
  if (unusedFor !== undefined) return { unusedForMs: unusedFor };
  if ((TOKEN_STATUSES as readonly string[]).includes(q)) return { status: q as TokenStatus };
  return { search: query.trim() };
}

/** A count that may have stopped early: "1,234", or "10,000+". */
export function countText(count: { count: number; atLeast: boolean }): string {
  return `${count.count.toLocaleString('en-US')}${count.atLeast ? '+' : ''}`;
}

export { auditSubject } from '../src/ui-text/audit';

/** The first row to show so that `selected` stays visible in a window of `visible` rows. */
export function scrollStart(count: number, selected: number, visible: number): number {
  if (count <= visible) return 0;
  const half = Math.floor(visible / 2);
  return Math.min(Math.max(0, selected - half), count - visible);
}

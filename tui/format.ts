import type { TokenView } from '../src/tokens/service';
import { AppError } from '../src/errors';

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

/** The `/` filter: a token matches when its name contains the query, or its status or id starts with it. */
export function matchesFilter(token: TokenView, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === '') return true;
  return token.name.toLowerCase().includes(q) || token.status.startsWith(q) || token.id.startsWith(q);
}

export { auditSubject } from '../src/ui-text/audit';

/** The first row to show so that `selected` stays visible in a window of `visible` rows. */
export function scrollStart(count: number, selected: number, visible: number): number {
  if (count <= visible) return 0;
  const half = Math.floor(visible / 2);
  return Math.min(Math.max(0, selected - half), count - visible);
}

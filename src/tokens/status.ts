import { AppError } from '../errors';

/**
 * A token's status, as every listing shows it: `active` → `revoked` (terminal, irreversible) or
 * `expired` (terminal: an expired token is never revived). `expiring` is a display state of an
 * active token that will lapse soon.
 */
export type TokenStatus = 'active' | 'expiring' | 'expired' | 'revoked';
export const TOKEN_STATUSES: readonly TokenStatus[] = ['active', 'expiring', 'expired', 'revoked'];

/**
 * When an active token counts as `expiring`: within 7 days of its expiry AND either past 75 % of its
 * lifetime or rotated (it has a replacement and works only for the rest of its grace period). The
 * lifetime condition keeps short-lived tokens from being "expiring" from birth (a 7-day token becomes
 * expiring after 5¼ days; a 1-year token 7 days before its end), so the state still means "act now".
 */
export const EXPIRING_RULE = { windowMs: 7 * 86_400_000, lifetimeFraction: 0.75 } as const;
/** The window alone (kept for callers that show it). */
export const EXPIRING_WINDOW_MS = EXPIRING_RULE.windowMs;

/** A token's status at `now` (see EXPIRING_RULE). */
export function statusOf(row: { revokedAt: number | null; expiresAt: number; createdAt: number; replacedBy: string | null }, now: number): TokenStatus {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt <= now) return 'expired';
  if (row.expiresAt - now <= EXPIRING_RULE.windowMs && (row.replacedBy !== null || now - row.createdAt >= EXPIRING_RULE.lifetimeFraction * (row.expiresAt - row.createdAt))) {
    return 'expiring';
  }
  return 'active';
}

export function requireStatus(value: string): TokenStatus {
  if (!(TOKEN_STATUSES as readonly string[]).includes(value)) {
    throw new AppError('validation_failed', `status: "${value}" is not a token status; use one of ${TOKEN_STATUSES.join(', ')}`, { field: 'status' });
  }
  return value as TokenStatus;
}

import type { TokenStatus } from '../tokens/status';

/**
 * A status's colour, by name: the TUI passes it to Ink, the web console uses it as a class
 * (`status-green`, …) whose shades suit light and dark. The word is always shown too, so nothing
 * depends on colour alone.
 */
export const STATUS_COLORS: Record<TokenStatus, 'green' | 'yellow' | 'gray' | 'red'> = {
  active: 'green',
  expiring: 'yellow',
  expired: 'gray',
  revoked: 'red',
};

/** What each status means, in a few words (status filters, help). */
export const STATUS_MEANINGS: Record<TokenStatus, string> = {
  active: 'works',
  expiring: 'works, but expires within 7 days',
  expired: 'stopped working at its expiry',
  revoked: 'stopped working when it was revoked',
};

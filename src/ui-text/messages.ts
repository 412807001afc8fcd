/**
 * The sentences that warn or confirm, said the same way by the TUI and the web console (and the CLI
 * where it says them).
 */

/** Above a new token value, wherever it is shown once. */
export const ISSUED_WARNING = 'copy it now: it will not be shown again';

/** What confirming a revocation does (the revoke confirmation's second line). */
export const REVOKE_CONSEQUENCE = 'It stops working immediately; this cannot be undone.';

/** The revoke confirmation's question; without `id` (where the id is shown beside it), the short form. */
export function revokeQuestion(name: string, id?: string): string {
  return id === undefined ? `Revoke "${name}"?` : `Revoke "${name}" (${id})?`;
}

/** What a refresh does not change. */
export const REFRESH_NOTE = 'the value does not change';

/** What a rotation does, before the grace period is chosen. */
export const ROTATE_NOTE = 'A new token with the same name replaces it; you get its value once. The old token keeps working for:';

/** How to use a value. */
export const USE_HINT = 'use it as the header  Authorization: Bearer <value>';

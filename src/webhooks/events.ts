import type { TokenChange, TokenView } from '../tokens/service';

/**
 * The events a webhook receives, and their payloads. A payload follows the Standard Webhooks
 * convention `{"type", "timestamp", "data"}`; `data` holds ids, names, the app, the actor and times —
 * never a token value, never a hint of one, never a webhook secret (the fields are picked one by one,
 * so a field added to TokenView later does not leak into payloads unnoticed).
 */
export const WEBHOOK_EVENT_TYPES = ['token.created', 'token.revoked', 'token.refreshed', 'token.rotated', 'token.expiring', 'token.expired', 'webhook.test'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A token as a payload shows it. */
export interface WebhookToken {
  id: string;
  name: string;
  app: string | null;
  status: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  replaced_by: string | null;
}

export interface WebhookPayload {
  type: WebhookEventType;
  /** When the event happened (RFC 3339). */
  timestamp: string;
  data: Record<string, unknown>;
}

export function payloadToken(token: Pick<TokenView, keyof WebhookToken>): WebhookToken {
  return {
    id: token.id,
    name: token.name,
    app: token.app,
    status: token.status,
    created_at: token.created_at,
    expires_at: token.expires_at,
    revoked_at: token.revoked_at,
    replaced_by: token.replaced_by,
  };
}

/** The `data` of a lifecycle event (created, revoked, refreshed, rotated). */
export function changeData(change: TokenChange): Record<string, unknown> {
  const data: Record<string, unknown> = { app: change.token.app, actor: change.actor, token: payloadToken(change.token) };
  if (change.previousExpiresAt !== undefined) data.previous_expires_at = change.previousExpiresAt;
  if (change.replacement !== undefined) data.new_token = payloadToken(change.replacement);
  return data;
}

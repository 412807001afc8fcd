import type { AuditEventView } from '../audit/audit';

/** What an audit event is about, in a few words: the token or pipeline name, or the token id. */
export function auditSubject(event: AuditEventView): string {
  const detail = event.detail ?? {};
  const name = typeof detail.name === 'string' ? detail.name : undefined;
  const pipeline = typeof detail.pipeline === 'string' ? `pipeline ${detail.pipeline}` : undefined;
  return [name ? `"${name}"` : pipeline, event.token_id ?? undefined].filter(Boolean).join(' ') || (event.app ?? '');
}

import type { TokenView } from '../api';
import { RelativeTime } from './relative-time';

/** "chat, summarize" or "all pipelines of the app". */
export function pipelinesText(pipelines: readonly string[] | null): string {
  return pipelines === null ? 'all pipelines of the app' : pipelines.join(', ');
}

/** "10.0.0.0/8, 2001:db8::1" or "any address". */
export function allowedIpsText(allowed: readonly string[] | null): string {
  return allowed === null ? 'any address' : allowed.join(', ');
}

/** A token's last use: when (relative, exact on hover) and, if known, from which client address. */
export function LastUsed({ token, now }: { token: TokenView; now: number }) {
  return (
    <span>
      <RelativeTime iso={token.last_used_at} now={now} />
      {token.last_used_at !== null && token.last_used_ip ? (
        <>
          {' '}
          <span className="meta">
            from <code>{token.last_used_ip}</code>
          </span>
        </>
      ) : null}
    </span>
  );
}

/**
 * The restrictions a token carries, one short line each, for under its name in a list; nothing
 * when it has none (a token without restrictions may trigger every pipeline of its app from anywhere).
 */
export function TokenRestrictions({ token }: { token: TokenView }) {
  if (token.description === null && token.pipelines === null && token.allowed_ips === null) return null;
  return (
    <span className="restrictions">
      {token.description !== null ? <span className="description">{token.description}</span> : null}
      {token.pipelines !== null ? (
        <span>
          Pipelines: <code>{token.pipelines.join(', ')}</code>
        </span>
      ) : null}
      {token.allowed_ips !== null ? (
        <span>
          Allowed IPs: <code>{token.allowed_ips.join(', ')}</code>
        </span>
      ) : null}
    </span>
  );
}

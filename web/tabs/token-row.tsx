import type { TokenView } from '../api';
import { RelativeTime } from '../components/relative-time';
import { StatusBadge } from '../components/status-badge';

export type TokenAction = 'revoke' | 'refresh' | 'rotate';

/** A token's id in the page, for the row's name cell (actions are described by it; focus lands on it after a revoke). */
export function tokenNameId(token: TokenView): string {
  return `token-name-${token.id}`;
}

/**
 * One token: name, hint, status, expiry, last use, and the actions it allows (**Revoke** unless it
 * is revoked; **Refresh** and **Rotate** while it works). Each action button's accessible name is
 * the action; its description is the token's name.
 */
export function TokenRow({ token, now, onAction }: { token: TokenView; now: number; onAction: (action: TokenAction, token: TokenView) => void }) {
  const works = token.status === 'active' || token.status === 'expiring';
  const nameId = tokenNameId(token);
  return (
    <tr>
      <th scope="row" data-label="Name">
        <span id={nameId} tabIndex={-1} className="token-name">
          {token.name}
        </span>
      </th>
      <td data-label="Hint">
        <code>{token.hint}</code>
      </td>
      <td data-label="Status">
        <StatusBadge status={token.status} />
      </td>
      <td data-label="Expires">
        {token.status === 'revoked' ? (
          <span>
            revoked <RelativeTime iso={token.revoked_at} now={now} />
          </span>
        ) : (
          <RelativeTime iso={token.expires_at} now={now} />
        )}
      </td>
      <td data-label="Last used">
        <RelativeTime iso={token.last_used_at} now={now} />
      </td>
      <td data-label="Actions" className="row-actions">
        {works ? (
          <>
            <button type="button" aria-describedby={nameId} onClick={() => onAction('refresh', token)}>
              Refresh
            </button>
            <button type="button" aria-describedby={nameId} onClick={() => onAction('rotate', token)}>
              Rotate
            </button>
          </>
        ) : null}
        {token.status !== 'revoked' ? (
          <button type="button" className="danger-quiet" aria-describedby={nameId} onClick={() => onAction('revoke', token)}>
            Revoke
          </button>
        ) : null}
      </td>
    </tr>
  );
}

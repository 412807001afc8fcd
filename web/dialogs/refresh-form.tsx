import { useState } from 'react';
import { exactTime, REFRESH_NOTE } from '../../src/ui-text';
import type { TokenView } from '../api';
import { ErrorMessage } from '../components/error-message';
import { ExpiryField, expiryBody, initialExpiry, type ExpiryChoice } from '../components/expiry-field';
import { RelativeTime } from '../components/relative-time';
import { useConsole } from '../console-context';
import { useAction } from '../hooks/use-action';

/** Refresh: a later expiry for an active token; its value does not change. */
export function RefreshForm({ app, token, now, onRefreshed, onCancel }: { app: string; token: TokenView; now: number; onRefreshed: (token: TokenView) => void; onCancel: () => void }) {
  const { api, settings } = useConsole();
  const maxTtlMs = settings.max_token_ttl_seconds * 1000;
  const current = Date.parse(token.expires_at);
  const [expiry, setExpiry] = useState<ExpiryChoice>(() => initialExpiry(now, maxTtlMs, current));
  const { busy, error, run } = useAction(
    () => api.refreshToken(app, token.id, expiryBody(expiry)),
    (answer) => onRefreshed(answer.token),
  );
  return (
    <form method="post" onSubmit={run}>
      <p>
        A new expiry for “{token.name}”; {REFRESH_NOTE}, so integrations that use it need no change. It now expires <RelativeTime iso={token.expires_at} now={now} /> ({exactTime(token.expires_at)}).
      </p>
      <ExpiryField value={expiry} onChange={setExpiry} now={now} maxTtlMs={maxTtlMs} maxTtlText={settings.max_token_ttl} after={current} />
      <ErrorMessage message={error} />
      <div className="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy} data-autofocus>
          Refresh
        </button>
      </div>
    </form>
  );
}

import { REVOKE_CONSEQUENCE } from '../../src/ui-text';
import type { TokenView } from '../api';
import { ErrorMessage } from '../components/error-message';
import { useConsole } from '../console-context';
import { useAction } from '../hooks/use-action';

/** The confirmation the seed asks for: "the token stops working immediately"; Cancel is focused first. */
export function RevokeConfirm({ app, token, onRevoked, onCancel }: { app: string; token: TokenView; onRevoked: (token: TokenView) => void; onCancel: () => void }) {
  const { api } = useConsole();
  const { busy, error, run } = useAction(
    () => api.revokeToken(app, token.id),
    (answer) => onRevoked(answer.token),
  );
  return (
    <div>
      <p className="consequence">{REVOKE_CONSEQUENCE} Requests with it get 401 Unauthorized.</p>
      <p className="meta">
        {token.id} · <code>{token.hint}</code>
      </p>
      <ErrorMessage message={error} />
      <div className="actions">
        <button type="button" onClick={onCancel} data-autofocus>
          Cancel
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => run()}>
          Revoke token
        </button>
      </div>
    </div>
  );
}

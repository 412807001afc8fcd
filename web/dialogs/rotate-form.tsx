import { useId, useState } from 'react';
import { DEFAULT_GRACE_PRESET, GRACE_PRESETS, ROTATE_NOTE } from '../../src/ui-text';
import type { IssuedToken, TokenView } from '../api';
import { ErrorMessage } from '../components/error-message';
import { useConsole } from '../console-context';
import { useAction } from '../hooks/use-action';

/** Rotate: a new token with the same name now, the old one working for a grace period; the new value is shown once. */
export function RotateForm({ app, token, onRotated, onCancel }: { app: string; token: TokenView; onRotated: (issued: IssuedToken & { previous: TokenView }) => void; onCancel: () => void }) {
  const { api, settings } = useConsole();
  const name = useId();
  const [grace, setGrace] = useState(DEFAULT_GRACE_PRESET);
  const { busy, error, run } = useAction(() => api.rotateToken(app, token.id, grace), onRotated);
  return (
    <form method="post" onSubmit={run}>
      <fieldset>
        <legend>{ROTATE_NOTE}</legend>
        <div className="choices">
          {GRACE_PRESETS.map((preset) => {
            const allowed = preset.ms <= settings.max_rotate_grace_seconds * 1000;
            return (
              <label key={preset.value}>
                <input type="radio" name={name} value={preset.value} disabled={!allowed} checked={grace === preset.value} onChange={() => setGrace(preset.value)} />
                {preset.label}
                {preset.note ? <span className="note"> ({preset.note})</span> : null}
              </label>
            );
          })}
        </div>
      </fieldset>
      <ErrorMessage message={error} />
      <div className="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy} data-autofocus>
          Rotate
        </button>
      </div>
    </form>
  );
}

import { useId, useState, type FormEvent } from 'react';
import type { IssuedToken } from '../api';
import { ErrorMessage } from '../components/error-message';
import { ExpiryField, expiryBody, initialExpiry, type ExpiryChoice } from '../components/expiry-field';
import { useConsole } from '../console-context';

/** The seed's form: **Name** (a descriptive label) and **Expiration**, then **Create**. */
export function CreateTokenForm({ app, now, onCreated, onCancel }: { app: string; now: number; onCreated: (issued: IssuedToken) => void; onCancel: () => void }) {
  const { api, settings } = useConsole();
  const nameId = useId();
  const hintId = useId();
  const maxTtlMs = settings.max_token_ttl_seconds * 1000;
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState<ExpiryChoice>(() => initialExpiry(now, maxTtlMs));
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await api.createToken(app, { name, ...expiryBody(expiry) }));
    } catch (failure) {
      setError((failure as Error).message);
      setBusy(false);
    }
  };

  return (
    <form method="post" onSubmit={(event) => void submit(event)}>
      <p className="field">
        <label htmlFor={nameId}>Name</label>
        <input
          id={nameId}
          type="text"
          required
          maxLength={100}
          autoComplete="off"
          spellCheck={false}
          value={name}
          aria-describedby={hintId}
          onChange={(event) => setName(event.target.value)}
          data-autofocus
        />
        <span id={hintId} className="hint">
          A descriptive label, such as “CI/CD Pipeline” or “Mobile App Backend”: name it after its use.
        </span>
      </p>
      <ExpiryField value={expiry} onChange={setExpiry} now={now} maxTtlMs={maxTtlMs} maxTtlText={settings.max_token_ttl} />
      <ErrorMessage message={error} />
      <div className="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={busy}>
          Create
        </button>
      </div>
    </form>
  );
}

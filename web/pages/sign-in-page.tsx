import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { Api, SignedIn } from '../api';
import { ErrorMessage } from '../components/error-message';

/**
 * Sign-in: with the link `mechamental console` prints (handled before this page shows), or with an
 * admin token pasted here. The token is sent once, in the body of a same-origin POST; it is never
 * put in the URL or in storage, and the field is emptied whatever the answer.
 */
export function SignInPage({ api, message, onSignedIn }: { api: Api; message: { text: string; tone: 'info' | 'error' } | undefined; onSignedIn: (signedIn: SignedIn) => void }) {
  const tokenId = useId();
  const hintId = useId();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(message?.tone === 'error' ? message.text : undefined);
  const notice = message?.tone === 'info' ? message.text : undefined;
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'Sign in · mechamental';
    heading.current?.focus();
  }, []);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = token.trim();
    setToken('');
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await api.signIn({ token: value }));
    } catch (failure) {
      setError((failure as Error).message);
      setBusy(false);
    }
  };
  return (
    <main id="main" className="sign-in">
      <h1 ref={heading} tabIndex={-1}>
        Sign in to the mechamental console
      </h1>
      <ErrorMessage message={error} />
      {notice ? (
        <p role="status" className="notice">
          {notice}
        </p>
      ) : null}
      <p>
        On the server's machine, run <code>mechamental console</code> and open the link it prints. Each link works once, within 10 minutes.
      </p>
      <form method="post" className="card" onSubmit={(event) => void submit(event)}>
        <p className="field">
          <label htmlFor={tokenId}>Admin token</label>
          <input
            id={tokenId}
            type="password"
            required
            autoComplete="off"
            spellCheck={false}
            value={token}
            aria-describedby={hintId}
            onChange={(event) => setToken(event.target.value)}
          />
          <span id={hintId} className="hint">
            Or paste an admin token (mm_adm_…), made on the server with <code>mechamental admin-tokens create</code>. Revoking it signs you out.
          </span>
        </p>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
        </div>
      </form>
    </main>
  );
}

import { useId, useState, type FormEvent } from 'react';
import { ApiError, type IssuedToken, type PipelineView, type TokenControls } from '../api';
import { ErrorMessage } from '../components/error-message';
import { ExpiryField, expiryBody, initialExpiry, type ExpiryChoice } from '../components/expiry-field';
import { useConsole } from '../console-context';

/** The restriction fields, by the name the API's 422 message starts with (`allowed_ips: …`). */
type ControlField = 'description' | 'pipelines' | 'allowed_ips';
const CONTROL_FIELDS: readonly ControlField[] = ['description', 'pipelines', 'allowed_ips'];

/** The field a validation error names (the API's messages start with `field: `), if it is a restriction's. */
export function controlFieldOf(error: unknown): ControlField | undefined {
  if (!(error instanceof ApiError) || error.status !== 422) return undefined;
  const field = /^([a-z_]+)(?:\[\d+\])?:/.exec(error.message)?.[1];
  return CONTROL_FIELDS.find((f) => f === field);
}

/** Addresses and ranges as typed (commas, spaces or line breaks between them); the API checks each. */
export function addressesOf(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry !== '');
}

/** The controls as the API takes them: only what was given (nothing given, no restriction). */
export function controlsBody(description: string, pipelines: readonly string[], allowedIps: string): TokenControls {
  const addresses = addressesOf(allowedIps);
  return {
    ...(description.trim() !== '' ? { description: description.trim() } : {}),
    ...(pipelines.length > 0 ? { pipelines: [...pipelines] } : {}),
    ...(addresses.length > 0 ? { allowed_ips: addresses } : {}),
  };
}

/**
 * The seed's form: **Name** (a descriptive label) and **Expiration**, then **Create**. The token's
 * optional controls (description, the pipelines it may trigger, the addresses it may be used from)
 * wait behind a closed disclosure, "Restrictions (optional)", so the seed's fast path stays three
 * steps (as the TUI's `o` key does). The server validates them; its message is shown next to the
 * field it names, with the disclosure opened.
 */
export function CreateTokenForm({ app, now, pipelines, onCreated, onCancel }: { app: string; now: number; pipelines: readonly PipelineView[]; onCreated: (issued: IssuedToken) => void; onCancel: () => void }) {
  const { api, settings } = useConsole();
  const nameId = useId();
  const hintId = useId();
  const ids = { description: useId(), pipelines: useId(), allowed_ips: useId() };
  const maxTtlMs = settings.max_token_ttl_seconds * 1000;
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState<ExpiryChoice>(() => initialExpiry(now, maxTtlMs));
  const [restrictionsOpen, setRestrictionsOpen] = useState(false);
  const [description, setDescription] = useState('');
  const [scope, setScope] = useState<string[]>([]);
  const [allowedIps, setAllowedIps] = useState('');
  const [error, setError] = useState<{ message: string; field: ControlField | undefined } | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await api.createToken(app, { name, ...expiryBody(expiry), ...controlsBody(description, scope, allowedIps) }));
    } catch (failure) {
      const field = controlFieldOf(failure);
      setError({ message: (failure as Error).message, field });
      if (field) {
        setRestrictionsOpen(true);
        // After the disclosure has opened: the field the server named.
        queueMicrotask(() => document.getElementById(field === 'pipelines' ? `${ids.pipelines}-first` : ids[field])?.focus());
      }
      setBusy(false);
    }
  };

  const errorOf = (field: ControlField) => (error?.field === field ? error.message : undefined);
  const described = (field: ControlField, hint?: string) => [hint, error?.field === field ? `${ids[field]}-error` : undefined].filter(Boolean).join(' ') || undefined;
  const restricted = description.trim() !== '' || scope.length > 0 || addressesOf(allowedIps).length > 0;

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
      <details className="restrictions-section" open={restrictionsOpen} onToggle={(event) => setRestrictionsOpen((event.target as HTMLDetailsElement).open)}>
        <summary>Restrictions (optional){restricted && !restrictionsOpen ? ' · set' : ''}</summary>
        <p className="hint">A restricted token is useless elsewhere: limit it to what its integration needs. They are fixed at creation and kept by a rotation.</p>
        <div className="field">
          <label htmlFor={ids.description}>Description</label>
          <input
            id={ids.description}
            type="text"
            maxLength={500}
            autoComplete="off"
            value={description}
            aria-invalid={error?.field === 'description' || undefined}
            aria-describedby={described('description', `${ids.description}-hint`)}
            onChange={(event) => setDescription(event.target.value)}
          />
          <span id={`${ids.description}-hint`} className="hint">
            What it is for and who owns it, up to 500 characters.
          </span>
          <ErrorMessage message={errorOf('description')} id={`${ids.description}-error`} />
        </div>
        <fieldset className="scope" aria-describedby={described('pipelines', `${ids.pipelines}-hint`)}>
          <legend>Pipelines</legend>
          {pipelines.length > 0 ? (
            <div className="choices">
              {pipelines.map((pipeline, i) => (
                <label key={pipeline.slug}>
                  <input
                    type="checkbox"
                    {...(i === 0 ? { id: `${ids.pipelines}-first` } : {})}
                    value={pipeline.slug}
                    checked={scope.includes(pipeline.slug)}
                    onChange={(event) => setScope((s) => (event.target.checked ? [...s, pipeline.slug] : s.filter((slug) => slug !== pipeline.slug)))}
                  />
                  <code>{pipeline.slug}</code>
                </label>
              ))}
            </div>
          ) : null}
          <p id={`${ids.pipelines}-hint`} className="hint">
            {pipelines.length > 0 ? 'The pipelines it may trigger. None checked: every pipeline of the app, including ones added later.' : `App ${app} has no pipelines yet; the token may trigger any it gets.`}
          </p>
          <ErrorMessage message={errorOf('pipelines')} id={`${ids.pipelines}-error`} />
        </fieldset>
        <div className="field">
          <label htmlFor={ids.allowed_ips}>Allowed IPs</label>
          <input
            id={ids.allowed_ips}
            type="text"
            autoComplete="off"
            spellCheck={false}
            inputMode="url"
            value={allowedIps}
            aria-invalid={error?.field === 'allowed_ips' || undefined}
            aria-describedby={described('allowed_ips', `${ids.allowed_ips}-hint`)}
            onChange={(event) => setAllowedIps(event.target.value)}
          />
          <span id={`${ids.allowed_ips}-hint`} className="hint">
            Addresses or CIDR ranges it may be used from, separated by commas or spaces, e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32. Empty: any address.
          </span>
          <ErrorMessage message={errorOf('allowed_ips')} id={`${ids.allowed_ips}-error`} />
        </div>
      </details>
      <ErrorMessage message={error && error.field === undefined ? error.message : undefined} />
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

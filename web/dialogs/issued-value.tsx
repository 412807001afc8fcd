import { useEffect, useId, useRef, useState } from 'react';
import { exactTime, ISSUED_WARNING } from '../../src/ui-text';
import type { PipelineView, TokenView } from '../api';
import { CopyButton } from '../components/copy-button';

/** A value shown once: from a create, or from a rotate (with the token it replaces). */
export interface Issued {
  token: TokenView;
  value: string;
  previous?: TokenView;
}

/** The seed's example call, with this server's trigger address, a pipeline of the app, and the value. */
export function curlExample(triggerUrl: string, pipeline: string, value: string): string {
  return [
    `curl -X POST ${triggerUrl}/v1/trigger/${pipeline} \\`,
    `  -H "Authorization: Bearer ${value}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '{"message": "Hello, how can I reset my password?"}'`,
  ].join('\n');
}

export interface IssuedValueProps {
  issued: Issued;
  triggerUrl: string;
  pipelines: readonly PipelineView[];
  now: number;
  /** "I have copied it": the parent drops the value (and this dialog with it). */
  onDone: () => void;
}

/**
 * The one time a token value is shown: in a read-only field with **Copy**, in a ready curl
 * example, and with the warning that it will not be shown again. **I have copied it** (or Esc)
 * forgets it: the dialog's content, the value with it, leaves the DOM.
 */
export function IssuedValue({ issued, triggerUrl, pipelines, now, onDone }: IssuedValueProps) {
  const valueId = useId();
  const curlId = useId();
  const pipelineId = useId();
  const warningId = useId();
  const valueRef = useRef<HTMLInputElement>(null);
  const curlRef = useRef<HTMLTextAreaElement>(null);
  const firstPipeline = pipelines.find((p) => p.slug === 'chat')?.slug ?? pipelines[0]?.slug;
  const [pipeline, setPipeline] = useState<string | undefined>(firstPipeline);
  const chosen = pipeline ?? firstPipeline;
  const { token, value, previous } = issued;

  useEffect(() => {
    valueRef.current?.focus();
    valueRef.current?.select();
  }, []);

  return (
    <div className="issued">
      <p id={warningId} className="warning">
        <strong>
          {ISSUED_WARNING.charAt(0).toUpperCase()}
          {ISSUED_WARNING.slice(1)}.
        </strong>{' '}
        This is the only time the value is shown. Store it in a secrets manager or an environment variable; if you lose it, create a new token.
      </p>
      <p className="field">
        <label htmlFor={valueId}>Token value of “{token.name}”</label>
        <span className="field-row">
          <input
            ref={valueRef}
            id={valueId}
            className="mono value"
            type="text"
            readOnly
            value={value}
            spellCheck={false}
            autoComplete="off"
            aria-describedby={warningId}
            onFocus={(event) => event.currentTarget.select()}
          />
          <CopyButton label="Copy" field={valueRef} />
        </span>
      </p>
      <p className="meta">
        {token.id} · expires {exactTime(token.expires_at)}
        {previous
          ? Date.parse(previous.expires_at) <= now
            ? ` · the previous token ${previous.id} has stopped working`
            : ` · the previous token ${previous.id} keeps working until ${exactTime(previous.expires_at)}`
          : ''}
      </p>
      {pipelines.length > 1 ? (
        <p className="field">
          <label htmlFor={pipelineId}>Pipeline in the example</label>
          <select id={pipelineId} value={chosen} onChange={(event) => setPipeline(event.target.value)}>
            {pipelines.map((p) => (
              <option key={p.slug} value={p.slug}>
                {p.slug}
              </option>
            ))}
          </select>
        </p>
      ) : null}
      <p className="field">
        <label htmlFor={curlId}>Use it: the token goes in the Authorization header as a Bearer token</label>
        <textarea ref={curlRef} id={curlId} className="mono curl" readOnly rows={5} wrap="off" spellCheck={false} value={curlExample(triggerUrl, chosen ?? '<pipeline>', value)} />
        <CopyButton label="Copy example" field={curlRef} />
      </p>
      {chosen === undefined ? <p className="hint">This app has no pipeline yet: add one with mechamental pipelines add.</p> : null}
      <div className="actions">
        <button type="button" className="primary" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </div>
  );
}

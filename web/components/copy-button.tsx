import { useState, type RefObject } from 'react';

/**
 * Copies the text of a read-only field. The Clipboard API needs a secure context (HTTPS or
 * localhost); over plain HTTP on another address it does not exist, so the field's own text is
 * selected and copied with execCommand, which still works there. Nothing else holds the text: no
 * temporary element, no storage. The outcome is announced (polite live region).
 */
export function CopyButton({ label, field, describedBy }: { label: string; field: RefObject<HTMLInputElement | HTMLTextAreaElement | null>; describedBy?: string }) {
  const [outcome, setOutcome] = useState<'copied' | 'failed' | undefined>();
  const copy = async () => {
    const element = field.current;
    if (!element) return;
    let copied = false;
    if (window.isSecureContext && navigator.clipboard?.writeText) {
      try {
        await navigator.clipboard.writeText(element.value);
        copied = true;
      } catch {
        copied = false;
      }
    }
    if (!copied) {
      const active = document.activeElement as HTMLElement | null;
      element.focus();
      element.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      active?.focus();
    }
    setOutcome(copied ? 'copied' : 'failed');
  };
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()} {...(describedBy ? { 'aria-describedby': describedBy } : {})}>
        {label}
      </button>
      <span role="status" className="copy-outcome">
        {outcome === 'copied' ? 'Copied' : outcome === 'failed' ? 'Copying is blocked here: select the text and press Ctrl+C (⌘C)' : ''}
      </span>
    </span>
  );
}

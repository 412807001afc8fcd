import { useId, useLayoutEffect, useRef, type KeyboardEvent, type ReactNode } from 'react';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

export interface DialogProps {
  title: string;
  /** Closes the dialog (Esc, or its own buttons); the parent stops rendering it. */
  onClose: () => void;
  /** Where focus goes when the dialog closes, if the element that opened it is gone (e.g. the row's button after a revoke). */
  returnFocus?: () => HTMLElement | null;
  /** `alertdialog` for a confirmation that cannot be undone. */
  role?: 'dialog' | 'alertdialog';
  children: ReactNode;
}

/**
 * A modal dialog on the native <dialog> (the rest of the page is inert while it is open). Focus
 * moves into it (to the element marked `data-autofocus`, else the first control), Tab and
 * Shift+Tab cycle within it, Esc closes it, and on close focus returns to the element that opened
 * it (or `returnFocus`). Rendered only while open: closing removes its content from the DOM.
 */
export function Dialog({ title, onClose, returnFocus, role = 'dialog', children }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  const returnRef = useRef(returnFocus);
  returnRef.current = returnFocus;

  useLayoutEffect(() => {
    const dialog = ref.current!;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    const first = dialog.querySelector<HTMLElement>('[data-autofocus]') ?? dialog.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => {
      if (dialog.open) dialog.close();
      // After React has finished this commit: the opener may have gone with it (a revoked token's button).
      queueMicrotask(() => {
        const target = opener && opener.isConnected ? opener : (returnRef.current?.() ?? null);
        target?.focus();
      });
    };
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDialogElement>) => {
    if (event.key !== 'Tab') return;
    const controls = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
    if (controls.length === 0) return;
    const first = controls[0]!;
    const last = controls[controls.length - 1]!;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      className="dialog"
      role={role === 'alertdialog' ? 'alertdialog' : undefined}
      aria-modal="true"
      aria-labelledby={titleId}
      onKeyDown={onKeyDown}
      onCancel={(event) => {
        // Esc: the parent decides (and unmounts); the browser must not close it behind React's back.
        event.preventDefault();
        closeRef.current();
      }}
    >
      <h2 id={titleId} className="dialog-title">
        {title}
      </h2>
      {children}
    </dialog>
  );
}

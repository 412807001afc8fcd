import { useState, type FormEvent } from 'react';

export interface Action {
  /** While the request is on its way (the dialog's button is disabled: one click, one request). */
  busy: boolean;
  /** The server's message when it refused, shown as it is. */
  error: string | undefined;
  /** Runs the action (as a form's onSubmit, or a button's onClick). */
  run: (event?: FormEvent<HTMLFormElement>) => void;
}

/**
 * A dialog's one request: `request` is sent, and its answer goes to `done` (which usually closes
 * the dialog, so `busy` stays set until then); a refusal leaves the dialog open with the message.
 */
export function useAction<T>(request: () => Promise<T>, done: (answer: T) => void): Action {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const run = (event?: FormEvent<HTMLFormElement>) => {
    event?.preventDefault();
    setBusy(true);
    setError(undefined);
    request()
      .then(done)
      .catch((failure: unknown) => {
        setError((failure as Error).message);
        setBusy(false);
      });
  };
  return { busy, error, run };
}

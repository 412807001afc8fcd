import { useContext, useEffect, useState } from 'react';
import { DataVersionContext } from './use-data-version';

export interface LiveQuery<T> {
  /** The latest data; undefined until the first read has answered. */
  data: T | undefined;
  error: unknown;
  /** Whether the first read is still on its way. */
  loading: boolean;
  /** Reads again now (after this screen's own writes, which the change marker may report later). */
  reload: () => void;
}

/**
 * Runs `load` (a service read) when the screen mounts, and again whenever the database changes
 * (DataVersionContext), `deps` change, or `reload()` is called. A failed read is returned as `error`
 * for the screen to show (the last good data stays), never thrown. An answer that arrives after a
 * newer read was started is dropped; one that is the very same value as the data held (Object.is)
 * changes nothing.
 */
export function useLiveQuery<T>(load: () => Promise<T>, deps: readonly unknown[]): LiveQuery<T> {
  const version = useContext(DataVersionContext);
  const [nonce, setNonce] = useState(0);
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  useEffect(() => {
    let current = true;
    load().then(
      (data) => {
        // The very same answer as before changes nothing: no render.
        if (current) setState((previous) => (Object.is(previous.data, data) && previous.error === undefined && !previous.loading ? previous : { data, error: undefined, loading: false }));
      },
      (error: unknown) => {
        if (current) setState((previous) => ({ data: previous.data, error, loading: false }));
      },
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, nonce, ...deps]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

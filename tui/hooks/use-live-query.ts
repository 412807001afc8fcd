import { useContext, useMemo, useState } from 'react';
import { DataVersionContext } from './use-data-version';

export interface LiveQuery<T> {
  data: T | undefined;
  error: unknown;
  /** Reads again now (after this screen's own writes, which `data_version` does not report). */
  reload: () => void;
}

/**
 * Runs `load` (a synchronous service read) while rendering, and again whenever the database
 * changes (DataVersionContext), `deps` change, or `reload()` is called. A failed read is returned
 * as `error` for the screen to show, never thrown.
 */
export function useLiveQuery<T>(load: () => T, deps: readonly unknown[]): LiveQuery<T> {
  const version = useContext(DataVersionContext);
  const [nonce, setNonce] = useState(0);
  const result = useMemo(() => {
    try {
      return { data: load(), error: undefined as unknown };
    } catch (error) {
      return { data: undefined, error };
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, nonce, ...deps]);
  return { ...result, reload: () => setNonce((n) => n + 1) };
}

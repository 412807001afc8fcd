import { useEffect, useRef, useState } from 'react';

export interface Query<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
}

/** Reads `load()` when `deps` change (the change feed's version among them); the latest answer wins. */
export function useQuery<T>(load: () => Promise<T>, deps: readonly unknown[]): Query<T> {
  const [state, setState] = useState<Query<T>>({ data: undefined, error: undefined, loading: true });
  const loadRef = useRef(load);
  loadRef.current = load;
  const sequence = useRef(0);
  useEffect(() => {
    const ticket = ++sequence.current;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => ticket === sequence.current && setState({ data, error: undefined, loading: false }),
      (error: Error) => ticket === sequence.current && setState((s) => ({ data: s.data, error: error.message, loading: false })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller names what the load depends on
  }, deps);
  return state;
}

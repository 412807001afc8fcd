import { useInput } from 'ink';
import { useCallback, useState, type ReactNode } from 'react';
import { KeyRegistry, KeyRegistryContext } from '../hooks/use-keys';

/**
 * The one subscription to Ink's input (made once, at start); every key goes to the handlers that
 * screens and components register with useKeys.
 */
export function KeyboardProvider({ children }: { children: ReactNode }) {
  const [registry] = useState(() => new KeyRegistry());
  const dispatch = useCallback<Parameters<typeof useInput>[0]>((input, key) => registry.dispatch(input, key), [registry]);
  useInput(dispatch);
  return <KeyRegistryContext.Provider value={registry}>{children}</KeyRegistryContext.Provider>;
}

import type { Key } from 'ink';
import { createContext, useContext, useLayoutEffect, useRef } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

interface Entry {
  handler: { current: KeyHandler };
  active: { current: boolean };
}

/** The handlers of the mounted components, in mount order; KeyboardProvider sends each key to the active ones. */
export class KeyRegistry {
  private entries: Entry[] = [];

  add(entry: Entry): () => void {
    this.entries.push(entry);
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
    };
  }

  dispatch(input: string, key: Key): void {
    for (const entry of [...this.entries]) {
      if (entry.active.current) entry.handler.current(input, key);
    }
  }
}

export const KeyRegistryContext = createContext<KeyRegistry | null>(null);

/**
 * Like Ink's useInput, but registered while React commits (a layout effect) instead of in a
 * passive effect afterwards: once a screen is on the terminal, its keys work, even when they come
 * right after the key that opened it (a fast typist, tmux send-keys, a test). Ink's useInput also
 * re-subscribes after every render, leaving a stale handler in place until then.
 */
export function useKeys(handler: KeyHandler, options: { isActive?: boolean } = {}): void {
  const registry = useContext(KeyRegistryContext);
  if (!registry) throw new Error('useKeys outside <KeyboardProvider>');
  const handlerRef = useRef(handler);
  const activeRef = useRef(options.isActive !== false);
  useLayoutEffect(() => {
    handlerRef.current = handler;
    activeRef.current = options.isActive !== false;
  });
  useLayoutEffect(() => registry.add({ handler: handlerRef, active: activeRef }), [registry]);
}

import { useApp, useInput, type Key } from 'ink';
import { useCallback, useRef, useState, type ReactNode } from 'react';
import { KeyRegistry, KeyRegistryContext } from '../hooks/use-keys';

type Keypress = readonly [input: string, key: Key];

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** Whether Ink handed over a run of several plain keys as one input ("jj", "j\r", ten DELs). */
function isRun(input: string, key: Key): boolean {
  if (key.ctrl || key.meta || key.escape || key.return || key.tab || key.backspace || key.delete) return false;
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown || key.home || key.end) return false;
  return [...input].length > 1;
}

/**
 * The keys of a run, one by one, as Ink would have reported each alone: Enter (CR or LF), Tab,
 * Backspace (BS) and Delete (DEL, what the Backspace key sends), Ctrl+letter, or a printable
 * character. Other control characters are dropped.
 */
export function splitRun(input: string): Keypress[] {
  const keys: Keypress[] = [];
  for (const char of input) {
    const code = char.codePointAt(0)!;
    if (char === '\r' || char === '\n') keys.push(['', { ...NO_KEY, return: true }]);
    else if (char === '\t') keys.push(['', { ...NO_KEY, tab: true }]);
    else if (char === '\u007F') keys.push(['', { ...NO_KEY, delete: true }]);
    else if (char === '\b') keys.push(['', { ...NO_KEY, backspace: true }]);
    else if (code >= 1 && code <= 26) keys.push([String.fromCharCode(code + 96), { ...NO_KEY, ctrl: true }]);
    else if (code < 32) continue;
    else keys.push([char, { ...NO_KEY, shift: /^[A-Z]$/.test(char) }]);
  }
  return keys;
}

/**
 * The one subscription to Ink's input (made once, at start); every key goes to the handlers that
 * screens and components register with useKeys.
 *
 * Ink reports several keys that arrive in one read (a fast typist, a paste, "j⏎" over a slow link,
 * tmux send-keys) as one input string, which no handler that compares `input === 'j'` recognises.
 * Such a run is split here into its keys, and each is handled after the previous one's changes are
 * on screen: the key after the one that opened a form goes to the form. Keys wait in a queue that
 * drains in microtasks (so nothing that arrives later can overtake them).
 */
export function KeyboardProvider({ children, paused = false }: { children: ReactNode; /** Drop every key but Ctrl+C (the screens are hidden). */ paused?: boolean }) {
  const { exit } = useApp();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const [registry] = useState(() => new KeyRegistry());
  const queue = useRef<Keypress[]>([]);
  const draining = useRef(false);

  const drain = useCallback(() => {
    const next = queue.current.shift();
    if (!next) {
      draining.current = false;
      return;
    }
    const [input, key] = next;
    // Ink handles Ctrl+C itself only when it arrives alone.
    if (key.ctrl && input === 'c') {
      queue.current = [];
      draining.current = false;
      exit();
      return;
    }
    try {
      if (!pausedRef.current) registry.dispatch(input, key);
    } finally {
      // After this key's state changes were committed (outside Ink's batch, React renders each
      // update at once), so that the next key meets the handlers they put in place.
      queueMicrotask(drain);
    }
  }, [registry, exit]);

  const dispatch = useCallback<Parameters<typeof useInput>[0]>(
    (input, key) => {
      if (pausedRef.current) return;
      const keys = isRun(input, key) ? splitRun(input) : [[input, key] as const];
      if (!draining.current && keys.length === 1) {
        registry.dispatch(input, key);
        return;
      }
      queue.current.push(...keys);
      if (!draining.current) {
        draining.current = true;
        queueMicrotask(drain);
      }
    },
    [registry, drain],
  );
  useInput(dispatch);
  return <KeyRegistryContext.Provider value={registry}>{children}</KeyRegistryContext.Provider>;
}

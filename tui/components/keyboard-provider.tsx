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
 * drains one key per macrotask (so nothing that arrives later can overtake them).
 */
export function KeyboardProvider({ children, paused = false }: { children: ReactNode; /** Drop every key but Ctrl+C (the screens are hidden). */ paused?: boolean }) {
  const { exit } = useApp();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const [registry] = useState(() => new KeyRegistry());
  const queue = useRef<Keypress[]>([]);
  const draining = useRef(false);

  /** Handles one key (Ctrl+C in a run quits, as Ink does for one alone). */
  const handle = useCallback(
    ([input, key]: Keypress) => {
      if (key.ctrl && input === 'c') {
        queue.current = [];
        exit();
        return;
      }
      if (!pausedRef.current) registry.dispatch(input, key);
    },
    [registry, exit],
  );

  // The next key waits for a macrotask: React commits the previous key's updates in a microtask
  // (Ink's root is a legacy, synchronous one), and the handlers they put in place register then.
  const drain = useCallback(() => {
    const next = queue.current.shift();
    if (!next) {
      draining.current = false;
      return;
    }
    try {
      handle(next);
    } finally {
      setImmediate(drain);
    }
  }, [handle]);

  const dispatch = useCallback<Parameters<typeof useInput>[0]>(
    (input, key) => {
      if (pausedRef.current && !(key.ctrl && input === 'c')) return;
      const keys: Keypress[] = isRun(input, key) ? splitRun(input) : [[input, key]];
      if (draining.current) {
        queue.current.push(...keys);
        return;
      }
      // The first key at once; any that follow in the same read, or before the screen has
      // changed (Ink may hand over the keys of one read one by one, in one go), after it.
      draining.current = true;
      const first = keys.shift()!;
      queue.current.push(...keys);
      try {
        handle(first);
      } finally {
        setImmediate(drain);
      }
    },
    [handle, drain],
  );
  useInput(dispatch);
  return <KeyRegistryContext.Provider value={registry}>{children}</KeyRegistryContext.Provider>;
}

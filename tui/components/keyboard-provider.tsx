import { useApp, useInput, type Key } from 'ink';
import { useCallback, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
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
 * on screen: the key after the one that opened a form goes to the form. Keys wait in a queue (so
 * nothing that arrives later can overtake them) that moves on only once React has committed what
 * the previous key did.
 *
 * A fixed delay cannot promise that: React renders an update in a Scheduler task (Ink's updates
 * have the default priority), and a busy Scheduler (a long render, answers of the database
 * arriving meanwhile) yields and comes back after other macrotasks, so a key handled one
 * macrotask later could still reach the screen it was meant to leave. Each key therefore also
 * bumps a counter of this provider, in the same batch as the key's own updates; the layout effect
 * of the commit that shows it (after the children's, so the handlers the key put in place are
 * registered) lets the next key go.
 */
export function KeyboardProvider({ children, paused = false }: { children: ReactNode; /** Drop every key but Ctrl+C (the screens are hidden). */ paused?: boolean }) {
  const { exit } = useApp();
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const [registry] = useState(() => new KeyRegistry());
  const queue = useRef<Keypress[]>([]);
  /** Whether a key was handled whose changes are not committed yet, or keys wait in the queue. */
  const draining = useRef(false);
  /** How many keys were handled: moves in the same render as each key's own updates. */
  const [handled, setHandled] = useState(0);

  /** Handles one key (Ctrl+C in a run quits, as Ink does for one alone), then waits for its commit. */
  const handle = useCallback(
    ([input, key]: Keypress) => {
      try {
        if (key.ctrl && input === 'c') {
          queue.current = [];
          exit();
          return;
        }
        if (!pausedRef.current) registry.dispatch(input, key);
      } finally {
        setHandled((n) => n + 1);
      }
    },
    [registry, exit],
  );

  const drain = useCallback(() => {
    const next = queue.current.shift();
    if (!next) {
      draining.current = false;
      return;
    }
    handle(next);
  }, [handle]);

  // The previous key's updates are committed and its handlers registered (children's layout
  // effects run first): the next key goes after this commit has finished (its own synchronous
  // follow-ups, such as a screen telling its parent that a form is open, included).
  useLayoutEffect(() => {
    if (!draining.current) return;
    const timer = setImmediate(drain);
    return () => clearImmediate(timer);
  }, [handled, drain]);

  const dispatch = useCallback<Parameters<typeof useInput>[0]>(
    (input, key) => {
      if (pausedRef.current && !(key.ctrl && input === 'c')) return;
      const keys: Keypress[] = isRun(input, key) ? splitRun(input) : [[input, key]];
      if (draining.current) {
        queue.current.push(...keys);
        return;
      }
      // The first key at once; any that follow in the same read, or before the screen has
      // changed (Ink may hand over the keys of one read one by one, in one go), after its commit.
      draining.current = true;
      const first = keys.shift()!;
      queue.current.push(...keys);
      handle(first);
    },
    [handle],
  );
  useInput(dispatch);
  return <KeyRegistryContext.Provider value={registry}>{children}</KeyRegistryContext.Provider>;
}

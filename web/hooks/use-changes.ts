import { useEffect, useState } from 'react';

/**
 * A number that grows whenever the server reports a change (`GET /console/api/changes`, server-sent
 * events): lists depend on it and reload. Changes made anywhere (the CLI, the TUI, another console,
 * another instance) arrive within about a second. After a lost connection the browser reconnects by
 * itself, and the `ready` event that follows counts as a change (some may have been missed).
 * `session-ended`, or a feed the server refuses, calls `onEnded`, which checks the session.
 */
export function useChanges(enabled: boolean, onEnded: () => void): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!enabled) return undefined;
    let source: EventSource | undefined;
    let retry: number | undefined;
    let first = true;
    let closed = false;
    const open = () => {
      source = new EventSource('/console/api/changes');
      source.addEventListener('ready', () => {
        if (!first) setVersion((v) => v + 1);
        first = false;
      });
      source.addEventListener('change', () => setVersion((v) => v + 1));
      source.addEventListener('session-ended', () => {
        source?.close();
        onEnded();
      });
      source.addEventListener('error', () => {
        // CONNECTING: the browser retries by itself. CLOSED: it gave up (the server refused, e.g. 401).
        if (source?.readyState !== EventSource.CLOSED || closed) return;
        onEnded();
        retry = window.setTimeout(open, 5_000);
      });
    };
    open();
    return () => {
      closed = true;
      window.clearTimeout(retry);
      source?.close();
    };
  }, [enabled, onEnded]);
  return version;
}

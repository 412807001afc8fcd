import { createContext, useEffect, useState } from 'react';
import type { Services } from '../../src/services';

/** Bumped whenever what the screens show may have changed; screens reload when it moves. */
export const DataVersionContext = createContext(0);

/** How often relative times ("in 3d", "5m ago") and statuses are recomputed without any write. */
const CLOCK_STEP_MS = 15_000;

/**
 * Watches the database file for commits by other connections (the server recording "last used",
 * the CLI, another admin's TUI) by polling `PRAGMA data_version` — a cheap read that changes only
 * when another connection commits — and answers a number that moves when that happens, or when
 * the clock has moved on enough for statuses and relative times to change.
 */
export function useDataVersion(services: Services, intervalMs: number): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let lastData: unknown;
    let lastStep = Math.floor(services.clock.now() / CLOCK_STEP_MS);
    try {
      lastData = services.db.sqlite.pragma('data_version', { simple: true });
    } catch {
      return undefined;
    }
    const timer = setInterval(() => {
      let data: unknown;
      try {
        data = services.db.sqlite.pragma('data_version', { simple: true });
      } catch {
        clearInterval(timer); // the database was closed: nothing more to watch
        return;
      }
      const step = Math.floor(services.clock.now() / CLOCK_STEP_MS);
      if (data !== lastData || step !== lastStep) {
        lastData = data;
        lastStep = step;
        setVersion((v) => v + 1);
      }
    }, intervalMs);
    return () => clearInterval(timer);
  }, [services, intervalMs]);
  return version;
}

import { createContext, useEffect, useState } from 'react';
import type { Services } from '../../src/services';

/** Bumped whenever what the screens show may have changed; screens reload when it moves. */
export const DataVersionContext = createContext(0);

/** How often relative times ("in 3d", "5m ago") and statuses are recomputed without any write. */
const CLOCK_STEP_MS = 15_000;

/**
 * Watches the store for commits by anyone (the server recording "last used", the CLI, another
 * admin's TUI, another instance) by polling its change marker — on SQLite `PRAGMA data_version`, a
 * cheap read that changes only when a commit happened — and answers a number that moves when that
 * happens, or when the clock has moved on enough for statuses and relative times to change.
 */
export function useDataVersion(services: Services, intervalMs: number): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let lastData: string | undefined;
    let lastStep = Math.floor(services.clock.now() / CLOCK_STEP_MS);
    let stopped = false;
    let busy = false;
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const data = await services.store.changeMarker();
        const step = Math.floor(services.clock.now() / CLOCK_STEP_MS);
        if (stopped) return;
        if ((lastData !== undefined && data !== lastData) || step !== lastStep) setVersion((v) => v + 1);
        lastData = data;
        lastStep = step;
      } catch {
        // The store does not answer now (or was closed): the next tick tries again.
      } finally {
        busy = false;
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), intervalMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [services, intervalMs]);
  return version;
}

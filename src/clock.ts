/**
 * The one source of "now" (milliseconds since the epoch). Every module asks a `Clock`; tests
 * substitute a settable one instead of patching `Date.now`.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock for tests: starts at `startMs` and moves only when told to. */
export class ManualClock implements Clock {
  private current: number;

  constructor(startMs: number = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  set(ms: number): void {
    this.current = ms;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

/** RFC 3339 UTC text for an epoch-millisecond time, the form every API and listing shows. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}

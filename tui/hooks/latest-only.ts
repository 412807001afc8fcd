import { useRef } from 'react';

/** A read dropped before it started: a newer one of its lane was asked for meanwhile. */
class Superseded extends Error {
  constructor() {
    super('superseded by a newer read');
    this.name = 'Superseded';
  }
}

/**
 * A lane of reads, one at a time, for the latest key only: a read asked while another runs waits
 * for it, and is dropped (rejects with `Superseded`) if by then a read of another key was asked for.
 * Typing a filter asks for a page and a count at every keystroke; on PostgreSQL each is a round trip
 * on the pool, and without a lane they pile up, so the last keystroke's answer waits behind every
 * earlier one's (and opens new connections for them). Reads of the same key (the pages of one
 * filter as the selection moves) all run, in order. The data hooks ignore an answer, or a
 * rejection, that a newer read made stale, so a dropped read changes nothing on screen.
 */
export class LatestOnly {
  private tail: Promise<unknown> = Promise.resolve();
  private latest: string | undefined;

  run<T>(key: string, read: () => Promise<T>): Promise<T> {
    this.latest = key;
    const next = this.tail.then(() => {
      if (this.latest !== key) throw new Superseded();
      return read();
    });
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** One lane for this component's lifetime. */
export function useLatestOnly(): LatestOnly {
  const lane = useRef<LatestOnly | null>(null);
  return (lane.current ??= new LatestOnly());
}

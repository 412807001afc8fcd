import { useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { Page } from '../../src/paging';
import { DataVersionContext } from './use-data-version';

/** Where a page starts: the top of the list, after a row, just before a row, or the bottom. */
export type PageStart = { top: true } | { cursor: string } | { before: string } | { last: true };

/** A start as the services' `page` options (`cursor`, `before`, `last`). */
export function pageOptions(start: PageStart): { cursor?: string; before?: string; last?: boolean } {
  if ('cursor' in start) return { cursor: start.cursor };
  if ('before' in start) return { before: start.before };
  if ('last' in start) return { last: true };
  return {};
}

/** Reads one page of the list (newest first), as the services' `page` methods do. */
export type PageFetch<T> = (start: PageStart, limit: number) => Promise<Page<T>>;

interface LoadedPage<T> {
  start: PageStart;
  items: T[];
  /** Rows follow below (older): continue with `{cursor: nextCursor}`. */
  nextCursor: string | null;
  /** Rows come before it (newer): continue with `{before: prevCursor}`. */
  prevCursor: string | null;
}

interface WindowState<T> {
  pages: Array<LoadedPage<T>>;
  /** The selected row's index in the loaded rows. */
  index: number;
  /** The selected row's id, which keeps it selected when rows above it come or go. */
  id: string | undefined;
  /** How many rows of the list lie above the window, when known (a window loaded from the top). */
  offset: number | undefined;
}

export interface KeysetWindow<T> {
  /** The loaded rows (a few pages around the selection), newest first. */
  rows: readonly T[];
  /** The selected row's index in `rows` (0 when there are none). */
  selected: number;
  /** The selected row's position in the whole list (0-based), when known. */
  position: number | undefined;
  /** Whether the loaded rows reach the top, and the bottom, of the list. */
  atTop: boolean;
  atBottom: boolean;
  /** True until the first page has answered (and again after the filter changed). */
  loading: boolean;
  error: unknown;
  /** Moves the selection by `delta` rows (fetching the next pages as it nears an edge). */
  move: (delta: number) => void;
  /** The first row of the list (g, Home). */
  home: () => void;
  /** The last row of the list (G, End): fetches the last page, not everything before it. */
  end: () => void;
  /** Reads the top of the list again and selects the row with this id there (a new token), else the first. */
  top: (id?: string) => void;
  /** Selects the row with this id (now, or once a reload brings it). */
  select: (id: string) => void;
  /** Reads the window again now (after this screen's own writes). */
  reload: () => void;
}

export interface KeysetWindowOptions<T> {
  /** Rows per page. */
  pageSize: number;
  /** At most this many pages stay loaded; pages far from the selection are dropped. */
  keepPages: number;
  /** Fetch the next page when the selection comes this close to an edge of the window. */
  margin: number;
  idOf: (row: T) => string;
}

const TOP: PageStart = { top: true };

/**
 * A window of a long list: only a few pages around the selection are loaded, and the next ones
 * are fetched as the selection nears an edge of the window; pages far behind it are dropped, so a
 * million rows cost what a few hundred do. `g`/`G` jump to either end with one page read. Paging is
 * by keyset (the services' cursors), so rows added or revoked meanwhile neither repeat nor vanish.
 *
 * The window is read again, from where it starts, when the data changes (DataVersionContext), when
 * `deps` change (a new filter: back to the top), or on `reload()`. An answer that arrives after a
 * newer read started is dropped.
 */
export function useKeysetWindow<T>(fetch: PageFetch<T>, deps: readonly unknown[], options: KeysetWindowOptions<T>): KeysetWindow<T> {
  const version = useContext(DataVersionContext);
  const [state, setState] = useState<WindowState<T>>({ pages: [], index: 0, id: undefined, offset: 0 });
  const [error, setError] = useState<unknown>(undefined);
  // The deps whose first read has ended: until it is those of this render, the window is loading
  // (so in the very render where a filter changed, not only from the effect that reads it).
  const [loadedDeps, setLoadedDeps] = useState<readonly unknown[] | undefined>(undefined);
  // New deps whose first read has not ended yet. Whichever read of the window ends next is of them
  // (a read started later, by the data changing or a key, supersedes the first and reads for them).
  const pendingDeps = useRef<readonly unknown[] | undefined>(undefined);
  const [nonce, setNonce] = useState(0);
  // The latest state for key handlers and async continuations (several keys can come before a render).
  const current = useRef(state);
  current.current = state;
  const generation = useRef(0);
  // A row to select once a read brings it (top(id): a token just created), whatever read that is.
  const wanted = useRef<string | undefined>(undefined);
  const busy = useRef(false);
  // Moves past the loaded rows wait here for the next page (a held key does not stop at the edge of the window).
  const pendingMove = useRef(0);
  const moveRef = useRef<(delta: number) => void>(() => undefined);
  const fetchRef = useRef(fetch);
  fetchRef.current = fetch;
  const { pageSize, keepPages, margin, idOf } = options;

  const rowsOf = (pages: Array<LoadedPage<T>>) => pages.flatMap((page) => page.items);

  const commit = useCallback((next: WindowState<T>) => {
    current.current = next;
    setState(next);
  }, []);

  /** Reads pages from `start`, `count` of them chained, replacing the window. */
  const load = useCallback(
    async (start: PageStart, count: number, select: (rows: T[], previous: WindowState<T>) => { index: number; offset: number | undefined }) => {
      const mine = ++generation.current;
      // The first read of new deps has ended (with rows or an error): the window is theirs.
      const loaded = () => {
        if (pendingDeps.current === undefined) return;
        setLoadedDeps(pendingDeps.current);
        pendingDeps.current = undefined;
      };
      busy.current = true;
      try {
        const pages: Array<LoadedPage<T>> = [];
        let at: PageStart | undefined = start;
        while (at && pages.length < count) {
          const page: Page<T> = await fetchRef.current(at, pageSize);
          if (mine !== generation.current) return;
          pages.push({ start: at, items: page.items, nextCursor: page.nextCursor, prevCursor: page.prevCursor ?? null });
          at = page.nextCursor ? { cursor: page.nextCursor } : undefined;
        }
        const rows = rowsOf(pages);
        const previous = current.current;
        let { index, offset } = select(rows, previous);
        if (wanted.current !== undefined) {
          const found = rows.findIndex((row) => idOf(row) === wanted.current);
          if (found >= 0 && 'top' in start) {
            index = found;
            offset = 0;
            wanted.current = undefined;
          }
        }
        const clamped = Math.max(0, Math.min(rows.length - 1, index));
        commit({ pages, index: clamped, id: rows[clamped] ? idOf(rows[clamped]!) : undefined, offset });
        setError(undefined);
        loaded();
      } catch (failure) {
        if (mine === generation.current) {
          setError((previous: unknown) => failure ?? previous);
          loaded();
        }
      } finally {
        if (mine === generation.current) busy.current = false;
      }
    },
    [pageSize, idOf, commit],
  );

  // The data changed, or reload(): the same window again, the same row selected. (Declared before
  // the filter's effect: when both run, the filter's read starts last and wins.)
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const window = current.current;
    // New deps not read yet (this read supersedes their first) are read from the top, as a new
    // filter is; so is a row waited for at the top (top(id)), whatever the window was.
    if (pendingDeps.current !== undefined) {
      void load(TOP, 1, () => ({ index: 0, offset: 0 }));
      return;
    }
    const start = wanted.current !== undefined ? TOP : (window.pages[0]?.start ?? TOP);
    void load(start, wanted.current !== undefined ? 1 : Math.max(1, window.pages.length), (rows, previous) => {
      const found = previous.id === undefined ? -1 : rows.findIndex((row) => idOf(row) === previous.id);
      return { index: found >= 0 ? found : previous.index, offset: 'top' in start ? 0 : previous.offset };
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version, nonce]);

  // A new filter: back to the top. (The window is loading from this render on: its deps are not
  // those its rows were read for. No state is set here, which would cost a render of its own.)
  useEffect(() => {
    pendingDeps.current = deps;
    void load(TOP, 1, () => ({ index: 0, offset: 0 }));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  /** Fetches the page below the window (or above it), dropping pages beyond `keepPages`. */
  const extend = useCallback(
    async (direction: 'down' | 'up') => {
      const window = current.current;
      const edge = direction === 'down' ? window.pages.at(-1) : window.pages[0];
      const cursor = direction === 'down' ? edge?.nextCursor : edge?.prevCursor;
      if (!edge || !cursor || busy.current) return;
      const mine = generation.current;
      busy.current = true;
      try {
        const start: PageStart = direction === 'down' ? { cursor } : { before: cursor };
        const page = await fetchRef.current(start, pageSize);
        if (mine !== generation.current) return;
        const latest = current.current;
        const loaded: LoadedPage<T> = { start, items: page.items, nextCursor: page.nextCursor, prevCursor: page.prevCursor ?? null };
        let pages = direction === 'down' ? [...latest.pages, loaded] : [loaded, ...latest.pages];
        let index = direction === 'up' ? latest.index + loaded.items.length : latest.index;
        let offset = direction === 'up' && latest.offset !== undefined ? latest.offset - loaded.items.length : latest.offset;
        while (pages.length > keepPages) {
          if (direction === 'down') {
            const dropped = pages[0]!;
            pages = pages.slice(1);
            index -= dropped.items.length;
            if (offset !== undefined) offset += dropped.items.length;
            // The window now starts after the dropped page: reloads read from there.
            pages[0] = { ...pages[0]!, start: { cursor: dropped.nextCursor! } };
          } else {
            pages = pages.slice(0, -1);
          }
        }
        if (direction === 'up' && loaded.prevCursor === null && offset === undefined) offset = 0;
        commit({ ...latest, pages, index, offset });
        const pending = pendingMove.current;
        pendingMove.current = 0;
        if (pending !== 0) moveRef.current(pending);
      } catch (failure) {
        setError(failure);
      } finally {
        if (mine === generation.current) busy.current = false;
      }
    },
    [pageSize, keepPages, commit],
  );

  const rows = rowsOf(state.pages);
  const atTop = (state.pages[0]?.prevCursor ?? null) === null;
  const atBottom = (state.pages.at(-1)?.nextCursor ?? null) === null;

  const loading = loadedDeps === undefined || !sameDeps(loadedDeps, deps);

  // Near an edge of the window: read the next page beyond it.
  useEffect(() => {
    if (busy.current || loading) return;
    if (state.index >= rows.length - margin && !atBottom) void extend('down');
    else if (state.index < margin && !atTop) void extend('up');
  });

  const move = useCallback(
    (delta: number) => {
      const window = current.current;
      const all = rowsOf(window.pages);
      if (all.length === 0) return;
      const wanted = window.index + delta;
      const index = Math.max(0, Math.min(all.length - 1, wanted));
      const moreBelow = (window.pages.at(-1)?.nextCursor ?? null) !== null;
      const moreAbove = (window.pages[0]?.prevCursor ?? null) !== null;
      if ((wanted > index && moreBelow) || (wanted < index && moreAbove)) pendingMove.current += wanted - index;
      commit({ ...window, index, id: idOf(all[index]!) });
    },
    [commit, idOf],
  );
  moveRef.current = move;

  const home = useCallback(() => {
    const window = current.current;
    if ((window.pages[0]?.prevCursor ?? null) === null) return move(-window.index);
    void load(TOP, 1, () => ({ index: 0, offset: 0 }));
  }, [load, move]);

  const top = useCallback(
    (id?: string) => {
      wanted.current = id;
      void load(TOP, 1, (loaded) => ({ index: Math.max(0, id === undefined ? 0 : loaded.findIndex((row) => idOf(row) === id)), offset: 0 }));
    },
    [load, idOf],
  );

  const end = useCallback(() => {
    const window = current.current;
    if ((window.pages.at(-1)?.nextCursor ?? null) === null) return move(rowsOf(window.pages).length);
    void load({ last: true }, 1, (loaded) => ({ index: loaded.length - 1, offset: undefined }));
  }, [load, move]);

  const select = useCallback(
    (id: string) => {
      const window = current.current;
      const found = rowsOf(window.pages).findIndex((row) => idOf(row) === id);
      commit({ ...window, id, index: found >= 0 ? found : window.index });
    },
    [commit, idOf],
  );

  const reload = useCallback(() => setNonce((n) => n + 1), []);

  return {
    rows,
    selected: Math.max(0, Math.min(rows.length - 1, state.index)),
    position: state.offset === undefined ? undefined : state.offset + state.index,
    atTop,
    atBottom,
    loading,
    error,
    move,
    home,
    end,
    top,
    select,
    reload,
  };
}

/** Whether two dependency lists hold the same values (as React compares an effect's deps). */
function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => Object.is(value, b[i]));
}

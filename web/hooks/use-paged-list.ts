import { useCallback, useEffect, useRef, useState } from 'react';
import type { Page } from '../api';

/** Rows asked for per page. */
export const PAGE_SIZE = 50;
/** The server's largest page (a reload asks for everything shown so far in one request, up to this). */
const MAX_LIMIT = 1000;

export interface PagedList<T> {
  items: T[];
  /** Whether the server has more after `items`. */
  more: boolean;
  loading: boolean;
  error: string | undefined;
  loadMore(): void;
  /** Reads what is shown again (after a change made here). */
  reload(): void;
  /** Changes the shown items at once (e.g. with the token a revoke answered), before a reload confirms it. */
  patch(change: (items: T[]) => T[]): void;
}

/**
 * A list read page by page (keyset cursors, `pageSize` rows a page), never all at once: the first page when `key` changes
 * (a filter, a search), the next one on `loadMore` (scrolling or the "Show more" button). When
 * `version` changes (the server reported a change), what is shown is read again in one request
 * (as many rows as are shown, at most 1000) and marked as a background request, so it does not count
 * as the admin's activity. Answers that arrive after a newer request are dropped.
 */
export function usePagedList<T>(
  fetchPage: (query: { limit: number; cursor?: string | undefined }, background: boolean) => Promise<Page<T>>,
  key: string,
  version: number,
  pageSize = PAGE_SIZE,
): PagedList<T> {
  const [state, setState] = useState<{ items: T[]; cursor: string | null; loading: boolean; error: string | undefined; key: string }>({
    items: [],
    cursor: null,
    loading: true,
    error: undefined,
    key,
  });
  const sequence = useRef(0);
  /**
   * Whether a read is under way, known at once: two calls of `loadMore` in one frame (the button's
   * click, and the observer seeing the button that the click scrolled into view) both see the
   * `loading` of the last render, and would read the same page twice.
   */
  const busy = useRef(false);
  /**
   * The cursor of the last page asked for (null after a first read, a reload or a failure): a late
   * call still holding it, made before the page's answer re-rendered, does not read that page again.
   */
  const asked = useRef<string | null>(null);
  const shown = useRef(0);
  shown.current = state.key === key ? state.items.length : 0;
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  const load = useCallback(
    async (mode: 'first' | 'reload' | 'more', cursor: string | null) => {
      const ticket = ++sequence.current;
      busy.current = true;
      asked.current = mode === 'more' ? cursor : null;
      setState((s) => ({ ...s, loading: true }));
      try {
        const limit = mode === 'reload' ? Math.min(MAX_LIMIT, Math.max(pageSize, shown.current)) : pageSize;
        const page = await fetchRef.current({ limit, cursor: mode === 'more' ? (cursor ?? undefined) : undefined }, mode === 'reload');
        if (ticket !== sequence.current) return;
        busy.current = false;
        setState((s) => ({ items: mode === 'more' ? [...s.items, ...page.items] : page.items, cursor: page.nextCursor, loading: false, error: undefined, key }));
      } catch (error) {
        if (ticket !== sequence.current) return;
        busy.current = false;
        asked.current = null; // the same page may be asked again (a retry)
        setState((s) => ({ ...s, loading: false, error: (error as Error).message, key }));
      }
    },
    [key, pageSize],
  );

  useEffect(() => {
    void load('first', null);
  }, [load]);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seenVersion = useRef(version);
  useEffect(() => {
    if (version === seenVersion.current) return;
    seenVersion.current = version;
    void loadRef.current('reload', null);
  }, [version]);

  const cursor = state.cursor;
  const loadMore = useCallback(() => {
    if (cursor !== null && !busy.current && cursor !== asked.current) void load('more', cursor);
  }, [cursor, load]);

  const reload = useCallback(() => void loadRef.current('reload', null), []);
  const patch = useCallback((change: (items: T[]) => T[]) => setState((s) => ({ ...s, items: change(s.items) })), []);

  const current = state.key === key;
  return { items: current ? state.items : [], more: current && state.cursor !== null, loading: state.loading || !current, error: state.error, loadMore, reload, patch };
}

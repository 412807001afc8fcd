import { useEffect, useRef } from 'react';

/**
 * The end of a paged list: loads the next page when it scrolls into view, and is also a button
 * (for the keyboard, and for browsers that do not report visibility). Renders nothing on the last page.
 */
export function ShowMore({ more, loading, onMore, label }: { more: boolean; loading: boolean; onMore: () => void; label: string }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const element = ref.current;
    if (!element || !more || typeof IntersectionObserver === 'undefined') return undefined;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) onMore();
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [more, onMore]);
  if (!more) return null;
  return (
    <p className="show-more">
      <button ref={ref} type="button" onClick={onMore} disabled={loading}>
        {loading ? 'Loading…' : label}
      </button>
    </p>
  );
}

import { useKeys } from './use-keys';
import { useState } from 'react';

/**
 * Selection in a list of `count` rows, moved with ↑↓ / j k, PgUp PgDn, g G (Home End); the
 * answer is always a valid index (0 for an empty list).
 */
export function useListSelection(count: number, page: number, isActive: boolean): number {
  const [index, setIndex] = useState(0);
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  useKeys(
    (input, key) => {
      if (key.upArrow || input === 'k') setIndex((i) => clamp(clamp(i) - 1));
      else if (key.downArrow || input === 'j') setIndex((i) => clamp(clamp(i) + 1));
      else if (key.pageUp) setIndex((i) => clamp(clamp(i) - page));
      else if (key.pageDown) setIndex((i) => clamp(clamp(i) + page));
      else if (input === 'g' || key.home) setIndex(0);
      else if (input === 'G' || key.end) setIndex(clamp(count - 1));
    },
    { isActive },
  );
  return clamp(index);
}

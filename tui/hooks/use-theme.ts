import { createContext, useContext } from 'react';
import type { TokenStatus } from '../../src/tokens/service';
import { STATUS_COLORS } from '../../src/ui-text/status';

export interface Theme {
  /** False under NO_COLOR: then no colour is ever asked for, and meaning is carried by text alone. */
  colors: boolean;
}

export const ThemeContext = createContext<Theme>({ colors: true });


/** Colour helpers that answer `undefined` (no colour) when colours are off. */
export function useTheme(): Theme & { color: (name: string) => string | undefined; statusColor: (status: TokenStatus) => string | undefined } {
  const theme = useContext(ThemeContext);
  return {
    ...theme,
    color: (name) => (theme.colors ? name : undefined),
    statusColor: (status) => (theme.colors ? STATUS_COLORS[status] : undefined),
  };
}

/** NO_COLOR (https://no-color.org): set and not empty means no colour. */
export function colorsWanted(env: NodeJS.ProcessEnv): boolean {
  return env.NO_COLOR === undefined || env.NO_COLOR === '';
}

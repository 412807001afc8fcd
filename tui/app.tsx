import { Box, Text, useApp } from 'ink';
import { useState } from 'react';
import type { Services } from '../src/services';
import { KeyboardProvider } from './components/keyboard-provider';
import { DataVersionContext, useDataVersion } from './hooks/use-data-version';
import { ServicesContext } from './hooks/use-services';
import { useTerminalSize, type TerminalSize } from './hooks/use-terminal-size';
import { ThemeContext } from './hooks/use-theme';
import { AppListScreen } from './screens/app-list-screen';
import { AppScreen } from './screens/app-screen';

export interface AppProps {
  services: Services;
  /** False under NO_COLOR. */
  colors?: boolean;
  /** Open this app directly instead of the app list. */
  initialApp?: string | undefined;
  /** How often to look for changes by other processes (PRAGMA data_version). */
  pollIntervalMs?: number;
  /** A fixed size instead of the terminal's (tests). */
  size?: TerminalSize;
  /** Called when the user quits (the default asks Ink to exit). */
  onQuit?: () => void;
}

/** The smallest terminal every screen fits (the forms, the value box, the help). */
export const MIN_SIZE: TerminalSize = { columns: 80, rows: 24 };

type Screen = { kind: 'apps' } | { kind: 'app'; app: string };

/** The whole UI: app list → app (Tokens, Pipelines, Audit), with live reload on database changes. */
export function App({ services, colors = true, initialApp, pollIntervalMs = 500, size: fixedSize, onQuit }: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize(fixedSize);
  const version = useDataVersion(services, pollIntervalMs);
  const [screen, setScreen] = useState<Screen>(initialApp ? { kind: 'app', app: initialApp } : { kind: 'apps' });
  const quit = onQuit ?? (() => exit());
  // Below the minimum the screens stay mounted (a value being shown is not lost) but hidden, and
  // take no keys, until the terminal is large enough again.
  const tooSmall = size.columns < MIN_SIZE.columns || size.rows < MIN_SIZE.rows;
  return (
    <ServicesContext.Provider value={services}>
      <ThemeContext.Provider value={{ colors }}>
        <DataVersionContext.Provider value={version}>
          <KeyboardProvider paused={tooSmall}>
            {tooSmall ? (
              <Box flexDirection="column" width={size.columns}>
                <Text wrap="wrap">
                  The terminal is {size.columns}×{size.rows}; mechamental tui needs at least {MIN_SIZE.columns}×{MIN_SIZE.rows}.
                </Text>
                <Text wrap="wrap">Make the window larger (the screen comes back at once), or press ctrl-c to quit.</Text>
              </Box>
            ) : null}
            <Box display={tooSmall ? 'none' : 'flex'} flexDirection="column">
              {screen.kind === 'apps' ? (
                <AppListScreen size={size} onOpen={(app) => setScreen({ kind: 'app', app })} onQuit={quit} />
              ) : (
                <AppScreen key={screen.app} app={screen.app} size={size} onBack={() => setScreen({ kind: 'apps' })} />
              )}
            </Box>
          </KeyboardProvider>
        </DataVersionContext.Provider>
      </ThemeContext.Provider>
    </ServicesContext.Provider>
  );
}

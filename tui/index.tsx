import { render } from 'ink';
import type { Services } from '../src/services';
import { App } from './app';
import { colorsWanted } from './hooks/use-theme';

export interface TuiOptions {
  /** Open this app directly instead of the app list. */
  app?: string | undefined;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  pollIntervalMs?: number;
}

// The alternate screen: the UI gets the whole terminal, and on exit the shell's screen comes back
// as it was, so no token value stays behind in the terminal's scrollback.
const ENTER_ALT_SCREEN = '\u001B[?1049h\u001B[H';
const LEAVE_ALT_SCREEN = '\u001B[?1049l';

/**
 * Runs the terminal UI on already opened services until the user quits (q on the app list, or
 * Ctrl+C). The single entry point of `tui/`: `mechamental tui` loads this module with a dynamic
 * import so that other commands do not load Ink and React.
 */
export async function runTui(services: Services, options: TuiOptions = {}): Promise<void> {
  const stdout = options.stdout ?? process.stdout;
  const env = options.env ?? process.env;
  const stdin = options.stdin ?? process.stdin;
  const altScreen = stdout.isTTY === true;
  // Raw mode before the first frame: Ink switches it on only after its first commit, and a key
  // typed in between would otherwise be echoed and turned from CR into LF (Enter lost).
  const rawEarly = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (rawEarly) stdin.setRawMode(true);
  if (altScreen) stdout.write(ENTER_ALT_SCREEN);
  const instance = render(
    <App services={services} colors={colorsWanted(env)} initialApp={options.app} pollIntervalMs={options.pollIntervalMs ?? 500} />,
    {
      stdin,
      stdout,
      stderr: options.stderr ?? process.stderr,
      exitOnCtrlC: true,
      patchConsole: false,
    },
  );
  const stop = () => instance.unmount();
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, stop);
  try {
    await instance.waitUntilExit();
  } finally {
    for (const signal of signals) process.off(signal, stop);
    instance.cleanup();
    if (rawEarly) stdin.setRawMode(false);
    if (altScreen) stdout.write(LEAVE_ALT_SCREEN);
  }
}

import { render } from 'ink-testing-library';
import { after } from 'node:test';
import type { Services } from '../../src/services';
import { App, type AppProps } from '../../tui/app';
import { waitForFrame } from './wait-for-frame';

export interface RenderedTui {
  frame: () => string;
  /** Sends keys, as typed. */
  press: (...keys: string[]) => void;
  waitFor: (predicate: string | RegExp | ((frame: string) => boolean), timeoutMs?: number) => Promise<string>;
  /** Waits until `text` is absent. */
  waitForGone: (text: string) => Promise<string>;
  quits: () => number;
  unmount: () => void;
}

/**
 * Renders the real UI (App) on real services, 80×24 without colours unless told otherwise; polls
 * the database every 50 ms. Unmounted after the test file.
 */
export function renderTui(services: Services, props: Partial<AppProps> = {}): RenderedTui {
  let quitCount = 0;
  const instance = render(
    <App services={services} colors={false} size={{ columns: 80, rows: 24 }} pollIntervalMs={50} onQuit={() => quitCount++} {...props} />,
  );
  let mounted = true;
  const unmount = () => {
    if (mounted) instance.unmount();
    mounted = false;
  };
  after(unmount);
  const frame = () => instance.lastFrame() ?? '';
  // Ink reads stdin once its input hook has switched raw mode on (after the first commit); a key
  // written before that would be lost, so every wait also waits for that.
  const listening = () => instance.stdin.listenerCount('readable') > 0;
  return {
    frame,
    press: (...keys) => {
      if (!listening()) throw new Error('a key was pressed before the UI reads input; wait for a frame first');
      for (const key of keys) instance.stdin.write(key);
    },
    waitFor: (predicate, timeoutMs) => waitForFrame(frame, (f) => listening() && (typeof predicate === 'string' ? f.includes(predicate) : predicate instanceof RegExp ? predicate.test(f) : predicate(f)), timeoutMs),
    waitForGone: (text) => waitForFrame(frame, (f) => listening() && !f.includes(text)),
    quits: () => quitCount,
    unmount,
  };
}

/** A token value as it appears on screen. */
export const VALUE_PATTERN = /mm_tok_[0-9A-Za-z]{36}/;

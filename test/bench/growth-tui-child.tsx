// A child process of the growth bench: opens the services on the data dir it is given, renders the
// TUI (80×24, in memory, as ink-testing-library does) straight on app default's Tokens tab, and
// reports on stdout, as one JSON line: ms from process start and from render to the first frame
// with the token list, the RSS then, and the time of filter keystrokes (each until the screen
// shows the new filter's answer and stops changing). Run as: node --import tsx test/bench/growth-tui-child.tsx DATA_DIR [SEARCH]
import { render } from 'ink-testing-library';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config';
import { openServices } from '../../src/services';
import { App } from '../../tui/app';

const [dataDir, search = 'svc-0003', databaseUrl] = process.argv.slice(2);

/** When each frame that differs from the one before was written (Ink writes a frame as it renders it). */
const frameTimes: number[] = [];
/** Called at each frame written (see `main`), to wake a wait for a frame. */
let onFrame: (() => void) | undefined;

/**
 * The first frame that passes `test` (the current one, or one written later). Woken by each frame
 * written, not by polling: a polling loop on this thread (setImmediate) would spin between the
 * TUI's own events and allocate as it spins (a young-generation collection every ~12 ms), and
 * slow what it measures.
 */
async function frameMatching(frame: () => string | undefined, test: (f: string) => boolean, timeoutMs = 60_000): Promise<string> {
  const timeout = setTimeout(() => onFrame?.(), timeoutMs);
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      const f = frame() ?? '';
      if (test(f)) return f;
      if (performance.now() >= deadline) throw new Error(`no such frame within ${timeoutMs} ms; last:\n${f}`);
      await new Promise<void>((resolve) => (onFrame = resolve));
    }
  } finally {
    clearTimeout(timeout);
    onFrame = undefined;
  }
}

/** How long the screen must stay the same after a keystroke for its answer to be complete (ms). */
const SETTLED_MS = 1_000;

/**
 * Waits until no frame has been written for SETTLED_MS; answers when the last one was (ms after
 * `since`). A keystroke changes the screen at least twice (the letter, then the rows of the new
 * filter), and the rows may look alike from one filter to the next (the newest `svc-0003` row may
 * be the newest `svc-000` row too), so no single frame tells that the answer has come: the last
 * change does. Its time is taken as it is written, not when this waiting next runs: a read that
 * holds the thread right after a render (the filter's count) would otherwise be counted in. Waits
 * on timers, not by polling (see `frameMatching`).
 */
async function settled(since: number): Promise<number> {
  for (;;) {
    const changedAt = Math.max(since, frameTimes.at(-1) ?? since);
    const left = SETTLED_MS - (performance.now() - changedAt);
    if (left <= 0) return changedAt - since;
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
  }
}

async function main(): Promise<void> {
  const services = await openServices(loadConfig({ MM_DATA_DIR: dataDir!, ...(databaseUrl ? { MM_DATABASE_URL: databaseUrl } : {}) }), { actor: 'tui' });
  const rendered = performance.now();
  const ui = render(<App services={services} colors={false} size={{ columns: 80, rows: 24 }} initialApp="default" pollIntervalMs={500} onQuit={() => undefined} />);
  const write = ui.stdout.write.bind(ui.stdout);
  let lastWritten = ui.lastFrame();
  ui.stdout.write = (frame: string) => {
    if (frame !== lastWritten) frameTimes.push(performance.now());
    lastWritten = frame;
    write(frame);
    onFrame?.();
  };
  await frameMatching(ui.lastFrame, (f) => /tokens, newest first/.test(f));
  const firstFrameMs = performance.now() - rendered;
  const sinceStartMs = performance.now();
  const rssAtFirstFrame = process.memoryUsage().rss;
  while (ui.stdin.listenerCount('readable') === 0) await new Promise((r) => setImmediate(r));

  ui.stdin.write('/');
  await frameMatching(ui.lastFrame, (f) => f.includes('Filter (name or status):'));
  const keystrokes: number[] = [];
  for (let i = 1; i <= search.length; i++) {
    const typed = search.slice(0, i);
    const started = performance.now();
    ui.stdin.write(search[i - 1]!);
    const ms = await settled(started);
    if (!(ui.lastFrame() ?? '').includes(`Filter (name or status): ${typed}`)) throw new Error(`the filter did not take "${typed}":\n${ui.lastFrame()}`);
    keystrokes.push(ms);
  }
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({ firstFrameMs, sinceStartMs, rssAtFirstFrameMiB: rssAtFirstFrame / 2 ** 20, maxRssMiB: usage.maxRSS / 1024, keystrokesMs: keystrokes })}\n`,
  );
  ui.unmount();
  await services.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);

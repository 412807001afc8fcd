// A child process of the growth bench: opens the services on the data dir it is given, renders the
// TUI (80×24, in memory, as ink-testing-library does) straight on app default's Tokens tab, and
// reports on stdout, as one JSON line: ms from process start and from render to the first frame
// with the token list, the RSS then, and the time of filter keystrokes (each until the list shows
// the rows of the new filter). Run as: node --import tsx test/bench/growth-tui-child.tsx DATA_DIR [SEARCH]
import { render } from 'ink-testing-library';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config';
import { openServices } from '../../src/services';
import { App } from '../../tui/app';

const [dataDir, search = 'svc-0003', databaseUrl] = process.argv.slice(2);

async function frameMatching(frame: () => string | undefined, test: (f: string) => boolean, timeoutMs = 60_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const f = frame() ?? '';
    if (test(f)) return f;
    if (performance.now() > deadline) throw new Error(`no such frame within ${timeoutMs} ms; last:\n${f}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** The first table row under the header (the newest row the current filter selects). */
function firstRow(frame: string): string {
  const lines = frame.split('\n');
  const header = lines.findIndex((line) => line.includes('NAME') && line.includes('HINT'));
  return header >= 0 ? (lines[header + 1] ?? '') : '';
}

async function main(): Promise<void> {
  const services = await openServices(loadConfig({ MM_DATA_DIR: dataDir!, ...(databaseUrl ? { MM_DATABASE_URL: databaseUrl } : {}) }), { actor: 'tui' });
  const rendered = performance.now();
  const ui = render(<App services={services} colors={false} size={{ columns: 80, rows: 24 }} initialApp="default" pollIntervalMs={500} onQuit={() => undefined} />);
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
    // Done when the first row matches the text typed so far (or the tab says nothing matches).
    await frameMatching(ui.lastFrame, (f) => f.includes(`Filter (name or status): ${typed}`) && (firstRow(f).toLowerCase().includes(typed.toLowerCase()) || f.includes('No token matches')));
    keystrokes.push(performance.now() - started);
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

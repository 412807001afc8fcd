import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { cliEnv, devCommand, runCli } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';

const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
const SOCKET = `mm-test-${process.pid}`;
/** Starting the dev CLI (tsx) is slow on a busy machine: wait generously, but poll. */
const TIMEOUT_MS = 20_000;
const VALUE = /mm_tok_[0-9A-Za-z]{36}/;
const COLOR_SGR = /\u001B\[(?:\d+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;\d+)*m/;

// The tmux server gets this environment; Ink renders only the last frame when CI is set.
const env = Object.fromEntries(Object.entries(cliEnv()).filter(([k]) => k !== 'CI' && k !== 'NO_COLOR' && k !== 'FORCE_COLOR'));

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', env });
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Starts `mechamental tui` (the real command, dev entry point) in a detached 80×24 tmux session. */
function start(session: string, dataDir: string, extraEnv: string[] = []): void {
  const command = ['env', '-u', 'CI', '-u', 'CONTINUOUS_INTEGRATION', 'TERM=xterm-256color', ...extraEnv, ...devCommand(), 'tui', '--data-dir', dataDir].map(quote).join(' ');
  // After the UI exits, its exit status stays on screen for the test to read.
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', `${command}; echo "[exit $?]"; sleep 600`);
}

function capture(session: string, escapes = false): string {
  return tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);
}

async function waitForPane(session: string, predicate: string | RegExp | ((pane: string) => boolean), escapes = false): Promise<string> {
  const test = typeof predicate === 'string' ? (p: string) => p.includes(predicate) : predicate instanceof RegExp ? (p: string) => predicate.test(p) : predicate;
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const pane = capture(session, escapes);
    if (test(pane)) return pane;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(predicate)} in the tmux pane:\n${pane}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function keys(session: string, ...names: string[]): void {
  tmux('send-keys', '-t', session, ...names);
}

function type(session: string, text: string): void {
  tmux('send-keys', '-t', session, '-l', text);
}

describe('mechamental tui in tmux (end to end)', () => {
  after(() => {
    if (HAS_TMUX) spawnSync('tmux', ['-L', SOCKET, 'kill-server'], { env });
  });

  test('create a token, see its value once, revoke it, quit; the CLI sees it revoked', async (t) => {
    if (!HAS_TMUX) return t.skip('tmux not installed');
    const dataDir = tempDataDir();
    start('main', dataDir);
    let pane = await waitForPane('main', (p) => p.includes('mechamental › apps') && p.includes('default'));
    assert.match(pane, /enter open/);

    keys('main', 'Enter');
    await waitForPane('main', 'No tokens yet');
    keys('main', 'c');
    await waitForPane('main', 'Create a token for app default');
    type('main', 'E2E deploy');
    await waitForPane('main', 'E2E deploy');
    keys('main', 'Enter');
    await waitForPane('main', '› 2. 30 days');
    keys('main', 'Enter');
    pane = await waitForPane('main', 'copy it now: it will not be shown again');
    const value = VALUE.exec(pane)?.[0];
    assert.ok(value, pane);

    keys('main', 'Enter');
    pane = await waitForPane('main', (p) => !p.includes(value) && /E2E deploy\s+mm_tok_\S+\s+active/.test(p));
    keys('main', 'r');
    pane = await waitForPane('main', '[y/N]');
    assert.match(pane, /Revoke "E2E deploy" \(tok_[a-z2-7]{20}\)\?/);
    keys('main', 'y');
    await waitForPane('main', /E2E deploy\s+mm_tok_\S+\s+revoked/);

    keys('main', 'q');
    await waitForPane('main', 'mechamental › apps');
    keys('main', 'q');
    pane = await waitForPane('main', '[exit ');
    assert.match(pane, /\[exit 0\]/);
    const history = tmux('capture-pane', '-p', '-S', '-', '-t', 'main');
    assert.ok(!history.includes(value), 'after quitting, the value is not left on the screen or in the scrollback');

    const listed = runCli(['tokens', 'list', '--app', 'default', '--json'], { dataDir });
    assert.equal(listed.code, 0, listed.stderr);
    const { tokens } = JSON.parse(listed.stdout) as { tokens: Array<{ name: string; status: string }> };
    assert.deepEqual(
      tokens.map((tok) => [tok.name, tok.status]),
      [['E2E deploy', 'revoked']],
    );
    assert.ok(!listed.stdout.includes(value));
  });

  test('in a terminal it is interactive even when CI is set in the environment', async (t) => {
    if (!HAS_TMUX) return t.skip('tmux not installed');
    start('ci', tempDataDir(), ['CI=true']);
    await waitForPane('ci', '› default');
    keys('ci', 'Enter');
    await waitForPane('ci', 'No tokens yet');
    keys('ci', 'q');
    await waitForPane('ci', 'mechamental › apps');
    keys('ci', 'q');
    assert.match(await waitForPane('ci', '[exit '), /\[exit 0\]/);
    tmux('kill-session', '-t', 'ci');
  });

  test('NO_COLOR=1: no colour codes on screen; without it, statuses are coloured', async (t) => {
    if (!HAS_TMUX) return t.skip('tmux not installed');
    const dataDir = tempDataDir();
    const created = runCli(['tokens', 'create', '--app', 'default', '--name', 'Coloured', '--expires', '30d'], { dataDir });
    assert.equal(created.code, 0, created.stderr);

    start('plain', dataDir, ['NO_COLOR=1']);
    start('colour', dataDir);
    for (const session of ['plain', 'colour']) {
      await waitForPane(session, '› default');
      keys(session, 'Enter');
    }
    const plain = await waitForPane('plain', /Coloured\s+\S+\s+active/);
    const plainEscapes = capture('plain', true);
    assert.doesNotMatch(plainEscapes, COLOR_SGR, plainEscapes);
    assert.match(plain, /\[Tokens\]/);
    await waitForPane('colour', /Coloured\s+\S+\s+active/);
    assert.match(capture('colour', true), COLOR_SGR);
    for (const session of ['plain', 'colour']) tmux('kill-session', '-t', session);
  });
});

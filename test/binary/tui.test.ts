import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BUILD_TIMEOUT_MS, ensureBinary, runBinary, sandbox, type Sandbox } from './helpers/binary';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

/** A private tmux server (its own socket), so that nothing here touches anyone's sessions. */
class Tmux {
  readonly socket = `mm-binary-tui-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  run(...args: string[]): string {
    const result = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: this.env });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  }

  screen(): string {
    return this.run('capture-pane', '-p', '-t', 'mm');
  }

  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.screen();
      if (pattern.test(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the screen never matched ${pattern}; it shows:\n${screen}`);
  }

  keys(...keys: string[]): void {
    this.run('send-keys', '-t', 'mm', ...keys);
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { env: this.env });
  }
}

describe('mechamental tui (the built executable) in an 80×24 terminal', { skip: hasTmux ? false : 'tmux is not installed' }, () => {
  let box: Sandbox;
  let tmux: Tmux;
  before(
    () => {
      ensureBinary();
      box = sandbox();
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => tmux?.kill());

  test('starts on the app list, opens the Tokens tab, and quits with exit 0', async () => {
    const created = runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { value } = JSON.parse(created.stdout) as { value: string };
    // tmux gets the sandbox environment (plus TERM for itself); `env -u CI` because Ink does not
    // draw interactively when it believes it runs in CI.
    tmux = new Tmux({ ...box.env, TERM: 'xterm-256color' });
    const command = `cd ${JSON.stringify(box.dir)} && env -u CI ${JSON.stringify(ensureBinary())} tui; echo "EXIT=$?"; sleep 60`;
    tmux.run('new-session', '-d', '-s', 'mm', '-x', '80', '-y', '24', command);

    const list = await tmux.waitFor(/default/);
    assert.match(list, /q quit/);
    assert.ok(list.split('\n').every((line) => line.length <= 80), 'fits 80 columns');

    tmux.keys('Enter');
    const tokens = await tmux.waitFor(/CI\/CD Pipeline/);
    assert.match(tokens, /Tokens/);
    assert.match(tokens, /active/);
    assert.ok(!tokens.includes(value), 'the value is never shown again');

    tmux.keys('q');
    await tmux.waitFor(/q quit/);
    tmux.keys('q');
    const end = await tmux.waitFor(/EXIT=\d+/);
    assert.match(end, /EXIT=0/);
    assert.doesNotMatch(end, /Error|unexpected/);
  });

  test('refuses to start without a terminal, in one line', () => {
    const result = runBinary(sandbox(), ['tui', '--data-dir', path.join(box.dir, 'data')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^mechamental: tui needs an interactive terminal/);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { runPipeline } from '../../src/pipelines/index';
import { eventually } from '../helpers/server';
import { childPids, failure, openFdCount, run, runIsolated } from './helpers';

/** An object nested `depth` levels deep: JSON.stringify overflows the stack on it. */
function deeplyNested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** `env`'s output as a map (a value may not hold a newline here). */
function parseEnv(text: string): Map<string, string> {
  return new Map(
    text
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]),
  );
}

describe('command: an input that cannot be serialised (finding 2)', () => {
  test('is refused before anything is spawned: no child and no descriptor left per request', async () => {
    const pipeline = { kind: 'command' as const, config: { argv: ['sh', '-c', 'cat >/dev/null; sleep 30'], timeout_ms: 60_000 } };
    // Warm up whatever the first spawn allocates once (signal pipes and the like).
    await run({ kind: 'command', config: { argv: ['true'] } }, {});
    const childrenBefore = childPids().length;
    const fdsBefore = openFdCount();
    const input = deeplyNested(1_000_000);
    for (let i = 0; i < 20; i++) {
      const error = await failure(runPipeline(pipeline, input, { signal: new AbortController().signal, onDelta: () => {} }));
      assert.equal(error.code, 'invalid_json');
      assert.match(error.message, /nested too deeply/);
    }
    // A leaked child would sleep for 30 s: a short wait for the warm-up's pipes and child to be
    // reaped on a busy machine cannot hide one.
    await eventually(() => childPids().length === childrenBefore && openFdCount() <= fdsBefore, 3_000, 'children and descriptors back to the baseline').catch(() => {});
    assert.equal(childPids().length, childrenBefore, 'no child process was started');
    assert.ok(openFdCount() <= fdsBefore, `no file descriptor was left open (${openFdCount()} now, ${fdsBefore} before)`);
  });
});

describe('command: the child environment', () => {
  test("holds PATH, LANG, HOME and the config's env, never the server's other variables", async () => {
    process.env.MM_TEST_SERVER_SECRET = 'server-secret-value-1234';
    process.env.DATABASE_PASSWORD = 'hunter2-hunter2';
    try {
      const { output } = await run({ kind: 'command', config: { argv: ['env'], env: { GREETING: 'from-config', API_TOKEN: 'config-token-5678' } } }, {});
      const env = parseEnv(output as string);
      assert.deepEqual([...env.keys()].sort(), ['API_TOKEN', 'GREETING', 'HOME', 'LANG', 'PATH']);
      assert.equal(env.get('PATH'), process.env.PATH);
      assert.equal(env.get('LANG'), process.env.LANG || 'C.UTF-8');
      assert.equal(env.get('GREETING'), 'from-config');
      assert.equal(env.get('API_TOKEN'), 'config-token-5678');
      assert.doesNotMatch(output as string, /server-secret-value-1234|hunter2/);
      assert.notEqual(env.get('HOME'), process.env.HOME);
    } finally {
      delete process.env.MM_TEST_SERVER_SECRET;
      delete process.env.DATABASE_PASSWORD;
    }
  });

  test('LANG falls back to C.UTF-8; the config env may override PATH', async () => {
    const savedLang = process.env.LANG;
    delete process.env.LANG;
    try {
      const { output } = await run({ kind: 'command', config: { argv: ['/usr/bin/env'], env: { PATH: '/opt/tools/bin' } } }, {});
      const env = parseEnv(output as string);
      assert.equal(env.get('LANG'), 'C.UTF-8');
      assert.equal(env.get('PATH'), '/opt/tools/bin');
    } finally {
      if (savedLang !== undefined) process.env.LANG = savedLang;
    }
  });

  test('HOME is an empty private directory (0700, ours), the same for every run of the process', async () => {
    const script = 'echo "$HOME"; ls -A "$HOME" | wc -l; stat -c "%a %u" "$HOME"';
    const first = ((await run({ kind: 'command', config: { argv: ['sh', '-c', script] } }, {})).output as string).trim().split('\n');
    const second = ((await run({ kind: 'command', config: { argv: ['sh', '-c', 'echo "$HOME"'] } }, {})).output as string).trim();
    const [home, entries, modeAndOwner] = first;
    assert.ok(home && fs.statSync(home).isDirectory());
    assert.equal(entries, '0', 'empty');
    assert.equal(modeAndOwner, `700 ${process.getuid!()}`);
    assert.equal(second, home);
  });

  test('HOME is removed when the server process exits', async () => {
    const [result] = await runIsolated([{ pipeline: { kind: 'command', config: { argv: ['sh', '-c', 'echo "$HOME"; touch "$HOME/.left-behind"'] } } }]);
    assert.equal(result!.error, undefined);
    const home = result!.output.trim();
    assert.match(home, /mechamental-home-/);
    assert.equal(fs.existsSync(home), false, `${home} is gone`);
  });
});

describe('command: stdout', () => {
  test('8 MiB without a newline is one delta (the long line is appended to, not rescanned per chunk)', async () => {
    const { output, deltas } = await run({ kind: 'command', config: { argv: ['sh', '-c', "head -c 8388608 /dev/zero | tr '\\0' x; echo; echo end"] } }, {});
    assert.deepEqual(
      deltas.map((d) => d.length),
      [8 * 1_048_576 + 1, 4],
    );
    assert.equal((output as string).length, 8 * 1_048_576 + 5);
  });
});

describe('command: failure details (finding 11)', () => {
  test("the stderr tail is the detail, with the config env's values redacted; the message is generic", async () => {
    const error = await failure(run({ kind: 'command', config: { argv: ['sh', '-c', 'echo "connect failed: password=$DB_PASSWORD" >&2; exit 2'], env: { DB_PASSWORD: 's3cret-pass' } } }, {}));
    assert.equal(error.code, 'pipeline_failed');
    assert.doesNotMatch(error.message, /connect failed|exit|code 2/);
    const detail = error.details?.detail as string;
    assert.match(detail, /exited with code 2: connect failed: password=\[redacted\]/);
    assert.doesNotMatch(detail, /s3cret-pass/);
  });
});

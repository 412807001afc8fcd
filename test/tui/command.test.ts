import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempDataDir } from '../helpers/data-dir';
import { runCli } from '../helpers/cli';

describe('tui command', () => {
  test('an unopenable database is one clear line and exit 1, not a stack trace', () => {
    const dataDir = tempDataDir();
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'mechamental.db'), 'this is not a database at all, just some text\n'.repeat(100));
    const result = runCli(['tui'], { dataDir });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^mechamental: .*is not a SQLite database/);
  });

  test('without a terminal it says so (exit 2) instead of failing inside Ink', () => {
    const result = runCli(['tui'], { dataDir: tempDataDir() });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^mechamental: tui needs an interactive terminal/);
  });

  test('--app with an unknown app is a clear error', () => {
    const result = runCli(['tui', '--app', 'nope'], { dataDir: tempDataDir() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /app "nope" does not exist/);
  });

  test('--help describes the screens and keys', () => {
    const result = runCli(['tui', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Tokens, Pipelines and Audit/);
    assert.match(result.stdout, /c create, r revoke, f refresh, o rotate/);
  });
});

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { BUILD_TIMEOUT_MS, ensureBinary, NOBODY, runBinary, runBinaryAsync, sandbox } from './helpers/binary';

const isRoot = process.getuid?.() === 0;

function cachedAddons(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => /^better_sqlite3-[0-9a-f]{64}\.node$/.test(name));
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('the SQLite native addon inside the executable', () => {
  before(() => ensureBinary(), { timeout: BUILD_TIMEOUT_MS });

  test('is extracted once to a content-addressed file in a private (0700) cache directory', () => {
    const box = sandbox();
    assert.equal(runBinary(box, ['migrate']).code, 0);
    assert.equal(fs.statSync(box.cacheDir).mode & 0o777, 0o700);
    const [name, ...others] = cachedAddons(box.cacheDir);
    assert.ok(name, 'one addon file');
    assert.deepEqual(others, []);
    const file = path.join(box.cacheDir, name);
    assert.equal(sha256(file), name.slice('better_sqlite3-'.length, -'.node'.length), 'named by its SHA-256');
    const inode = fs.statSync(file).ino;
    assert.equal(runBinary(box, ['apps', 'list']).code, 0);
    assert.equal(fs.statSync(file).ino, inode, 'reused, not rewritten');
    assert.deepEqual(fs.readdirSync(box.cacheDir), [name], 'no temporary files left behind');
  });

  test('defaults to $XDG_CACHE_HOME/mechamental, else ~/.cache/mechamental', () => {
    const box = sandbox();
    const home = path.join(box.dir, 'home');
    const env = { PATH: box.env.PATH, HOME: home };
    assert.equal(runBinary(box, ['migrate'], { env }).code, 0);
    assert.equal(cachedAddons(path.join(home, '.cache/mechamental')).length, 1);
    const xdg = path.join(box.dir, 'xdg');
    assert.equal(runBinary(box, ['migrate'], { env: { ...env, XDG_CACHE_HOME: xdg } }).code, 0);
    assert.equal(cachedAddons(path.join(xdg, 'mechamental')).length, 1);
  });

  test('a cache directory with loose permissions is made private again', () => {
    const box = sandbox();
    fs.mkdirSync(box.cacheDir, { mode: 0o755 });
    fs.chmodSync(box.cacheDir, 0o755);
    assert.equal(runBinary(box, ['migrate']).code, 0);
    assert.equal(fs.statSync(box.cacheDir).mode & 0o777, 0o700);
  });

  test('a damaged cached addon is detected by its hash and replaced, never loaded', () => {
    const box = sandbox();
    assert.equal(runBinary(box, ['migrate']).code, 0);
    const file = path.join(box.cacheDir, cachedAddons(box.cacheDir)[0]!);
    const good = sha256(file);
    const flipOneByte = (b: Buffer) => {
      b.writeUInt8(b.readUInt8(b.length >> 1) ^ 0xff, b.length >> 1);
      return b;
    };
    for (const damage of [(_: Buffer) => Buffer.from('not an ELF file at all'), flipOneByte, (b: Buffer) => b.subarray(0, b.length - 1)]) {
      const bytes = damage(Buffer.from(fs.readFileSync(file)));
      fs.chmodSync(file, 0o600);
      fs.writeFileSync(file, bytes);
      assert.notEqual(sha256(file), good);
      const result = runBinary(box, ['apps', 'list']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /did not match its SHA-256; replacing it/);
      assert.match(result.stdout, /default/);
      assert.equal(sha256(file), good, 'replaced by the embedded addon');
    }
  });

  test('concurrent first runs race safely', async () => {
    const box = sandbox();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => runBinaryAsync(box, ['apps', 'list', '--data-dir', path.join(box.dir, `data-${i}`)])));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.equal(cachedAddons(box.cacheDir).length, 1);
    assert.deepEqual(fs.readdirSync(box.cacheDir).length, 1, 'no temporary files left behind');
  });

  test('an unusable cache directory gives one clear line naming MM_CACHE_DIR', () => {
    const box = sandbox();
    // A path under a regular file can never be created, also for root.
    fs.writeFileSync(path.join(box.dir, 'file'), '');
    const env = { ...box.env, MM_CACHE_DIR: path.join(box.dir, 'file', 'cache') };
    const result = runBinary(box, ['migrate'], { env });
    assert.equal(result.code, 1);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^mechamental: cannot use .*file\/cache as the cache for the SQLite native addon: .*; set MM_CACHE_DIR to a private directory this user can write$/);
    assert.doesNotMatch(result.stderr, /unexpected error/);
  });

  test('an unwritable cache directory gives the same clear error', () => {
    const box = sandbox();
    fs.mkdirSync(box.cacheDir);
    fs.chmodSync(box.cacheDir, 0o500);
    let user: { uid: number; gid: number } | undefined;
    if (isRoot) {
      // Root writes anywhere, so the binary runs as nobody, owning a read-only cache directory.
      user = NOBODY;
      fs.chmodSync(box.dir, 0o777);
      fs.chownSync(box.cacheDir, NOBODY.uid, NOBODY.gid);
    }
    const result = runBinary(box, ['migrate'], { env: { ...box.env, MM_DATA_DIR: path.join(box.dir, 'data') }, ...(user ? { user } : {}) });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /^mechamental: cannot use .*cache as the cache for the SQLite native addon: .*set MM_CACHE_DIR to a private directory this user can write\n$/);
    assert.deepEqual(fs.readdirSync(box.cacheDir), [], 'nothing half-written left behind');
  });

  test('a cache directory that belongs to another user is refused', { skip: isRoot ? false : 'needs root to make a directory owned by another user' }, () => {
    const box = sandbox();
    fs.mkdirSync(box.cacheDir, { mode: 0o777 });
    fs.chmodSync(box.cacheDir, 0o777);
    fs.chmodSync(box.dir, 0o777);
    const result = runBinary(box, ['migrate'], { env: { ...box.env, MM_DATA_DIR: path.join(box.dir, 'data') }, user: NOBODY });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /belongs to uid 0, not to this user; set MM_CACHE_DIR/);
    assert.deepEqual(fs.readdirSync(box.cacheDir), []);
  });
});

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { dlopenVerified, ensurePrivateDir, openVerifiedAddon } from '../../src/db/native';
import { AppError } from '../../src/errors';
import { REPO_ROOT } from '../helpers/cli';
import { tempDir } from '../helpers/data-dir';
import { BUILD_TIMEOUT_MS, ensureBinary, NOBODY, runBinary, runBinaryAsync, sandbox } from './helpers/binary';

const isRoot = process.getuid?.() === 0;

function cachedAddons(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => /^better_sqlite3-[0-9a-f]{64}\.node$/.test(name));
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The development build's addon: a real native module to check and load. */
const REAL_ADDON = path.join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');

/** A private cache directory holding a copy of the real addon; answers the file and its hash. */
function cachedCopy(): { dir: string; file: string; hash: string } {
  const dir = path.join(tempDir('mm-addon-'), 'cache');
  fs.mkdirSync(dir, { mode: 0o700 });
  const file = path.join(dir, 'better_sqlite3-test.node');
  fs.copyFileSync(REAL_ADDON, file);
  fs.chmodSync(file, 0o500);
  return { dir, file, hash: sha256(file) };
}

const refusedAsCache = (pattern: RegExp) => (error: unknown) => error instanceof AppError && error.code === 'io_error' && pattern.test(error.message) && /set MM_CACHE_DIR/.test(error.message);

describe('the addon cache checks (finding 10: no symlink followed, no swap between check and load)', () => {
  test('a cache directory that is a symbolic link is refused, never followed', () => {
    const root = tempDir('mm-addon-');
    const real = path.join(root, 'elsewhere');
    fs.mkdirSync(real, { mode: 0o755 });
    fs.symlinkSync(real, path.join(root, 'cache'));
    assert.throws(() => ensurePrivateDir(path.join(root, 'cache')), refusedAsCache(/it is a symbolic link, which is never followed/));
    assert.equal(fs.statSync(real).mode & 0o777, 0o755, 'the link target was not touched');
    // A dangling link: refused too, and its target is not created.
    fs.symlinkSync(path.join(root, 'nothing-here'), path.join(root, 'dangling'));
    assert.throws(() => ensurePrivateDir(path.join(root, 'dangling')), refusedAsCache(/symbolic link/));
    assert.equal(fs.existsSync(path.join(root, 'nothing-here')), false);
  });

  test('a missing cache directory is created 0700; a loose one is made 0700', () => {
    const root = tempDir('mm-addon-');
    ensurePrivateDir(path.join(root, 'a', 'cache'));
    assert.equal(fs.lstatSync(path.join(root, 'a', 'cache')).mode & 0o777, 0o700);
    fs.mkdirSync(path.join(root, 'loose'), { mode: 0o777 });
    fs.chmodSync(path.join(root, 'loose'), 0o777);
    ensurePrivateDir(path.join(root, 'loose'));
    assert.equal(fs.statSync(path.join(root, 'loose')).mode & 0o777, 0o700);
  });

  test('the cached file is checked through its descriptor: missing, damaged, a link, writable by others, not ours', () => {
    const { dir, file, hash } = cachedCopy();
    assert.equal(openVerifiedAddon(path.join(dir, 'absent.node'), hash), 'missing');
    assert.equal(openVerifiedAddon(file, '0'.repeat(64)), 'damaged');
    // A link to a file with the right bytes is still refused: it is never followed.
    const link = path.join(dir, 'link.node');
    fs.symlinkSync(file, link);
    assert.equal(openVerifiedAddon(link, hash), 'untrusted');
    fs.chmodSync(file, 0o520);
    assert.equal(openVerifiedAddon(file, hash), 'untrusted', 'group-writable');
    fs.chmodSync(file, 0o502);
    assert.equal(openVerifiedAddon(file, hash), 'untrusted', 'world-writable');
    fs.chmodSync(file, 0o500);
    assert.equal(openVerifiedAddon(dir, hash), 'untrusted', 'a directory');
    if (process.getuid?.() === 0) {
      fs.chownSync(file, NOBODY.uid, NOBODY.gid);
      assert.equal(openVerifiedAddon(file, hash), 'untrusted', "another user's file");
      fs.chownSync(file, 0, 0);
    }
    const fd = openVerifiedAddon(file, hash);
    assert.equal(typeof fd, 'number');
    fs.closeSync(fd as number);
  });

  test('a file swapped after the check is not what gets loaded: the checked one is', () => {
    const { dir, file, hash } = cachedCopy();
    const fd = openVerifiedAddon(file, hash);
    assert.equal(typeof fd, 'number');
    // The attack: between check and load, another file takes the checked one's name.
    const planted = path.join(dir, 'planted');
    fs.writeFileSync(planted, 'not the checked addon');
    fs.renameSync(planted, file);
    assert.throws(() => process.dlopen({ exports: {} }, file), 'loading by name would load the planted file');
    const addon = dlopenVerified(fd as number, file, dir) as Record<string, unknown>;
    assert.equal(typeof addon.Database, 'function', 'the checked addon was loaded');
    assert.throws(() => fs.fstatSync(fd as number), /EBADF/, 'the descriptor is closed once loaded');
  });
});

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

  test('a cache directory that is a symbolic link is refused with one clear line; its target is never written', () => {
    const box = sandbox();
    const real = path.join(box.dir, 'real-cache');
    fs.mkdirSync(real, { mode: 0o700 });
    fs.symlinkSync(real, box.cacheDir);
    const result = runBinary(box, ['migrate']);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /^mechamental: cannot use .*cache as the cache for the SQLite native addon: it is a symbolic link, which is never followed .*; set MM_CACHE_DIR to a private directory this user can write\n$/);
    assert.deepEqual(fs.readdirSync(real), []);
  });

  test('a cached addon replaced by a symbolic link (even to the right bytes) is not followed but replaced', () => {
    const box = sandbox();
    assert.equal(runBinary(box, ['migrate']).code, 0);
    const name = cachedAddons(box.cacheDir)[0]!;
    const file = path.join(box.cacheDir, name);
    const elsewhere = path.join(box.dir, 'elsewhere.node');
    fs.copyFileSync(file, elsewhere);
    fs.rmSync(file);
    fs.symlinkSync(elsewhere, file);
    const result = runBinary(box, ['apps', 'list']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /was not a private regular file of this user; replacing it/);
    assert.ok(fs.lstatSync(file).isFile(), 'a regular file again');
    assert.equal(sha256(file), name.slice('better_sqlite3-'.length, -'.node'.length));
    assert.ok(fs.lstatSync(elsewhere).isFile(), 'the link target was left alone');
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

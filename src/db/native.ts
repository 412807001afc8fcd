import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../errors';

/**
 * The native addon inside the single executable: its SEA asset key and SHA-256, defined by
 * build.mjs. Undefined in development, where better-sqlite3 finds its addon in node_modules.
 */
declare const __MM_ADDON__: { asset: string; sha256: string } | undefined;

/** The variable that chooses where the single executable keeps its extracted native addon. */
export const CACHE_DIR_VARIABLE = 'MM_CACHE_DIR';

let loaded: unknown;

/**
 * better-sqlite3's native addon, for its `nativeBinding` option. In development: undefined
 * (better-sqlite3 loads its own). In the single executable: the addon embedded as a SEA asset,
 * extracted once to a content-addressed file in a private cache directory and loaded from there.
 *
 * Invariants: the cache directory is the user's own, mode 0700, and not a symbolic link; the addon
 * is loaded from the very file whose SHA-256 matched the one recorded at build time (opened without
 * following links, checked and hashed through one descriptor, loaded through that descriptor), so
 * no swap between check and load can change what is loaded; a damaged or untrusted file is replaced
 * atomically, never loaded; concurrent first runs are safe (each writes its own temporary file and
 * renames it into place).
 */
export function nativeBinding(env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof __MM_ADDON__ === 'undefined') return undefined;
  // `require` here is the single executable's, which loads built-in modules only; this line never
  // runs in the ESM development build (the define above is undefined there).
  const sea = require('node:sea') as typeof import('node:sea');
  if (!sea.isSea()) return undefined;
  loaded ??= loadEmbeddedAddon(__MM_ADDON__, sea, env);
  return loaded;
}

/** The directory that holds extracted addons: MM_CACHE_DIR, else $XDG_CACHE_HOME/mechamental, else ~/.cache/mechamental. */
export function addonCacheDir(env: NodeJS.ProcessEnv): string {
  if (env[CACHE_DIR_VARIABLE]) return path.resolve(env[CACHE_DIR_VARIABLE]);
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'mechamental');
  let home: string;
  try {
    home = env.HOME || os.homedir();
  } catch {
    throw cacheError('(none: HOME is not set and the user has no home directory)', 'no cache directory could be found');
  }
  return path.join(home, '.cache', 'mechamental');
}

function cacheError(dir: string, problem: string): AppError {
  return new AppError('io_error', `cannot use ${dir} as the cache for the SQLite native addon: ${problem}; set ${CACHE_DIR_VARIABLE} to a private directory this user can write`);
}

function loadEmbeddedAddon(addon: { asset: string; sha256: string }, sea: typeof import('node:sea'), env: NodeJS.ProcessEnv): unknown {
  const dir = addonCacheDir(env);
  ensurePrivateDir(dir);
  const file = path.join(dir, `better_sqlite3-${addon.sha256}.node`);
  // Two rounds at most: check, (re)write, check again. The second check also covers a concurrent
  // first run that renamed its own (identical) copy into place meanwhile.
  for (let attempt = 0; attempt < 2; attempt++) {
    const opened = openVerifiedAddon(file, addon.sha256);
    if (typeof opened === 'number') return dlopenVerified(opened, file, dir);
    if (opened !== 'missing') process.stderr.write(`mechamental: the cached native addon ${file} ${opened === 'damaged' ? 'did not match its SHA-256' : 'was not a private regular file of this user'}; replacing it\n`);
    writeAtomically(dir, file, embeddedBytes(addon, sea));
  }
  throw cacheError(dir, `${file} still does not match its SHA-256 after being rewritten`);
}

/**
 * Makes sure `dir` is a private directory of this user: creates it (mode 0700) if missing; refuses a
 * symbolic link (it is never followed: whoever controls the link would choose what is loaded) and a
 * directory of another user; tightens loose permissions to 0700.
 */
export function ensurePrivateDir(dir: string): void {
  let stat = lstatOrUndefined(dir);
  if (stat === undefined) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw cacheError(dir, (error as Error).message);
    }
    stat = lstatOrUndefined(dir);
    if (stat === undefined) throw cacheError(dir, 'it vanished right after it was created');
  }
  if (stat.isSymbolicLink()) throw cacheError(dir, 'it is a symbolic link, which is never followed (point MM_CACHE_DIR at the real directory instead)');
  if (!stat.isDirectory()) throw cacheError(dir, 'it is not a directory');
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) throw cacheError(dir, `it belongs to uid ${stat.uid}, not to this user`);
  if ((stat.mode & 0o077) !== 0) {
    try {
      fs.chmodSync(dir, 0o700);
    } catch (error) {
      throw cacheError(dir, `it is not private and cannot be made so (${(error as Error).message})`);
    }
  }
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cacheError(file, (error as Error).message);
  }
}

/**
 * Opens the cached addon and checks it through the open descriptor: opened with O_NOFOLLOW (a
 * symbolic link is refused, not followed), a regular file owned by this user that nobody else may
 * write (not group- or world-writable), whose bytes, read through that same descriptor, have the
 * expected SHA-256. Returns the descriptor (the caller loads the addon through it and closes it),
 * or why the file cannot be used: 'missing', 'damaged' (wrong hash) or 'untrusted' (a link, another
 * owner, loose permissions, not a regular file).
 *
 * Because the bytes are hashed and later loaded through one descriptor, replacing or renaming the
 * file at its path after this check changes nothing about what is loaded.
 */
export function openVerifiedAddon(file: string, sha256: string): number | 'missing' | 'damaged' | 'untrusted' {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ELOOP') return 'untrusted';
    throw cacheError(path.dirname(file), `cannot read ${file} (${(error as Error).message})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    const ownedByUs = typeof process.getuid !== 'function' || stat.uid === process.getuid();
    if (!stat.isFile() || !ownedByUs || (stat.mode & 0o022) !== 0) {
      fs.closeSync(fd);
      return 'untrusted';
    }
    const hash = crypto.createHash('sha256');
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let read; (read = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, read));
    if (hash.digest('hex') !== sha256) {
      fs.closeSync(fd);
      return 'damaged';
    }
    return fd;
  } catch (error) {
    fs.closeSync(fd);
    throw cacheError(path.dirname(file), `cannot read ${file} (${(error as Error).message})`);
  }
}

/**
 * Loads a native addon through a descriptor that `openVerifiedAddon` returned (and closes it): on
 * Linux from `/proc/self/fd/<fd>`, which names the very file that was hashed, whatever happened to
 * its path since. `file` only names it in errors. Elsewhere (no /proc), by path: the private
 * directory is then the only guard.
 *
 * Load one addon per process this way: the dynamic loader remembers a library by the name it was
 * opened with, and a later `/proc/self/fd/<n>` with a reused number would be taken for it.
 */
export function dlopenVerified(fd: number, file: string, dir: string): unknown {
  const module = { exports: {} as unknown };
  const source = process.platform === 'linux' ? `/proc/self/fd/${fd}` : file;
  try {
    process.dlopen(module, source);
  } catch (error) {
    throw cacheError(dir, `loading ${file} failed (${(error as Error).message.split('\n')[0]}); a filesystem mounted noexec cannot hold it`);
  } finally {
    // Only now: the descriptor keeps the checked file itself reachable until the loader has mapped it.
    fs.closeSync(fd);
  }
  return module.exports;
}

function embeddedBytes(addon: { asset: string; sha256: string }, sea: typeof import('node:sea')): Buffer {
  // getRawAsset: a view of the executable's own bytes, without a copy; only read from.
  const bytes = Buffer.from(sea.getRawAsset(addon.asset) as ArrayBuffer);
  if (crypto.createHash('sha256').update(bytes).digest('hex') !== addon.sha256) {
    throw new AppError('internal', 'the native addon embedded in this executable is damaged (SHA-256 mismatch); download or build mechamental again');
  }
  return bytes;
}

function writeAtomically(dir: string, file: string, bytes: Buffer): void {
  const partial = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.partial`);
  try {
    // 'wx': O_CREAT|O_EXCL, which never follows a link planted at that name.
    const fd = fs.openSync(partial, 'wx', 0o500);
    try {
      let written = 0;
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // rename replaces whatever is at `file` (a damaged copy, a planted link) without following it.
    fs.renameSync(partial, file);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw cacheError(dir, (error as Error).message);
  }
}

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
 * Invariants: the cache directory is the user's own and mode 0700 (so nobody else can swap the file
 * between check and load); a file is only ever loaded after its SHA-256 matched the one recorded
 * at build time; a damaged file is replaced atomically, never loaded; concurrent first runs are safe
 * (each writes its own temporary file and renames it into place).
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
    const state = cachedFileState(file, addon.sha256);
    if (state === 'valid') return dlopen(file, dir);
    if (state === 'damaged') process.stderr.write(`mechamental: the cached native addon ${file} did not match its SHA-256; replacing it\n`);
    writeAtomically(dir, file, embeddedBytes(addon, sea));
  }
  throw cacheError(dir, `${file} still does not match its SHA-256 after being rewritten`);
}

function ensurePrivateDir(dir: string): void {
  let stat: fs.Stats;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    stat = fs.statSync(dir);
  } catch (error) {
    throw cacheError(dir, (error as Error).message);
  }
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

function cachedFileState(file: string, sha256: string): 'valid' | 'missing' | 'damaged' {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw cacheError(path.dirname(file), `cannot read ${file} (${(error as Error).message})`);
  }
  return crypto.createHash('sha256').update(bytes).digest('hex') === sha256 ? 'valid' : 'damaged';
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
    const fd = fs.openSync(partial, 'wx', 0o500);
    try {
      let written = 0;
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, file);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw cacheError(dir, (error as Error).message);
  }
}

function dlopen(file: string, dir: string): unknown {
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, file);
  } catch (error) {
    throw cacheError(dir, `loading ${file} failed (${(error as Error).message.split('\n')[0]}); a filesystem mounted noexec cannot hold it`);
  }
  return module.exports;
}

import fs from 'node:fs';
import type Database from 'better-sqlite3';

/**
 * Whether any connection may have committed to a SQLite database since the last look: the check
 * every trigger request makes before it trusts a cached verification (SqliteHotReads).
 *
 * `PRAGMA data_version` answers that, but each call begins and ends a read transaction (two locks
 * taken and given back on the `-shm` file: ~11 µs under load, 6 % of a trigger request in a
 * profile of the executable). In WAL mode, every commit — of any connection, in any process —
 * rewrites the wal-index header at the start of the `-shm` file (its change counter, last frame and
 * checksums: SQLite's `walIndexWriteHdr`; https://www.sqlite.org/walformat.html), and SQLite itself
 * decides that another connection changed the database by comparing that header with the one it
 * saw last (`walIndexTryHdr`). This does the same with one 96-byte read of the header's two copies:
 *
 * - the copies differ: a commit is writing them (the second copy first, then the first); reported
 *   as a change, and the header is not remembered;
 * - they agree and equal the header seen last: no commit since (a commit that returned has written
 *   both copies before its locks were given back);
 * - otherwise: a change, and this header is remembered.
 *
 * This connection's own commits move the header too: they are reported as well (a cache dropped
 * once more than needed, never one kept too long). Where there is no `-shm` file to read (a
 * journal mode other than WAL, a file that cannot be opened), `PRAGMA data_version` answers.
 *
 * The `-shm` file is opened once per file per process and shared: POSIX record locks belong to the
 * process, and closing *any* descriptor of a file drops every lock the process holds on it, SQLite's
 * own among them. So the descriptor is closed only when the last watch of that file is released,
 * after the connections it watched have closed (`release`).
 */
export class CommitWatch {
  private readonly shm: SharedShm | undefined;
  /** The header as read, as 32-bit words: compared in JavaScript (no Buffer views, no call into C++ per look). */
  private readonly words = new Int32Array(HEADER_WORDS);
  private readonly header = Buffer.from(this.words.buffer);
  private readonly seen = new Int32Array(HEADER_COPY_WORDS);
  private hasSeen = false;
  private readonly dataVersion: Database.Statement<[], number>;
  private lastVersion = -1;
  private released = false;

  constructor(sqlite: Database.Database, file: string) {
    this.dataVersion = sqlite.prepare<[], number>('PRAGMA data_version').pluck();
    const wal = String(sqlite.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    // The -shm file exists once a read transaction has run in WAL mode (opening the database did).
    this.shm = wal ? SharedShm.acquire(`${file}-shm`) : undefined;
  }

  /** Whether the file watched is its `-shm` (false: every look asks `PRAGMA data_version`). */
  get readsHeader(): boolean {
    return this.shm !== undefined && !this.released;
  }

  /** True when a commit may have happened since the last call (always true on the first). */
  changed(): boolean {
    if (this.shm === undefined || this.released) return this.versionMoved();
    let read: number;
    try {
      read = fs.readSync(this.shm.fd, this.header, 0, HEADER_BYTES, 0);
    } catch {
      return this.versionMoved();
    }
    if (read < HEADER_BYTES) return this.versionMoved();
    const words = this.words;
    const seen = this.seen;
    let same = this.hasSeen;
    for (let i = 0; i < HEADER_COPY_WORDS; i++) {
      const word = words[i]!;
      // Copies that differ: a commit is writing them. Not remembered: the next look compares again.
      if (word !== words[i + HEADER_COPY_WORDS]) return true;
      if (word !== seen[i]) same = false;
    }
    if (same) return false;
    seen.set(words.subarray(0, HEADER_COPY_WORDS));
    this.hasSeen = true;
    return true;
  }

  private versionMoved(): boolean {
    const version = this.dataVersion.get()!;
    if (version === this.lastVersion) return false;
    this.lastVersion = version;
    return true;
  }

  /** Gives the shared `-shm` descriptor back; call after closing the connection watched. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.shm?.release();
  }
}

/** The wal-index header: two copies of 48 bytes at the start of the `-shm` file. */
const HEADER_COPY_BYTES = 48;
const HEADER_BYTES = 2 * HEADER_COPY_BYTES;
const HEADER_COPY_WORDS = HEADER_COPY_BYTES / 4;
const HEADER_WORDS = 2 * HEADER_COPY_WORDS;

/** One read-only descriptor per `-shm` file (by device and inode) in this process, counted. */
class SharedShm {
  private static readonly open = new Map<string, SharedShm>();
  private users = 1;

  private constructor(
    readonly fd: number,
    private readonly key: string,
  ) {}

  static acquire(path: string): SharedShm | undefined {
    let key: string;
    try {
      const stat = fs.statSync(path);
      key = `${stat.dev}:${stat.ino}`;
    } catch {
      return undefined;
    }
    const held = SharedShm.open.get(key);
    if (held !== undefined) {
      held.users++;
      return held;
    }
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch {
      return undefined;
    }
    const stat = fs.fstatSync(fd);
    const opened = `${stat.dev}:${stat.ino}`;
    const raced = SharedShm.open.get(opened);
    if (raced !== undefined) {
      // The path named another file between the two looks: the descriptor is kept open, never
      // closed, since closing it would drop the locks of this process's connections to that file.
      raced.users++;
      return raced;
    }
    const shm = new SharedShm(fd, opened);
    SharedShm.open.set(opened, shm);
    return shm;
  }

  release(): void {
    if (--this.users > 0) return;
    SharedShm.open.delete(this.key);
    fs.closeSync(this.fd);
  }
}

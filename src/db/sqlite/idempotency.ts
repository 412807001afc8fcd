import type { Statement } from 'better-sqlite3';
import type { IdempotencyRepo, IdempotencyRow } from '../store';
import type { Db } from './open';

type Serial = <T>(work: () => Promise<T>) => Promise<T>;

const COLUMNS = `token_id AS tokenId, key, fingerprint, pipeline, run_id AS runId, created_at AS createdAt,
  expires_at AS expiresAt, answer_status AS answerStatus, answer`;

/**
 * Idempotency keys in the SQLite file. Every write is an IMMEDIATE transaction queued behind the
 * store's other writes (`serial`), so that a claim is atomic against the CLI, the TUI and another
 * server on the same file too.
 */
export class SqliteIdempotency implements IdempotencyRepo {
  private readonly deleteExpired: Statement<[string, string, number]>;
  private readonly insert: Statement<[string, string, string, string, string, number, number]>;
  private readonly select: Statement<[string, string], IdempotencyRow>;
  private readonly completeStatement: Statement<[number, string, string, string, string]>;
  private readonly releaseStatement: Statement<[string, string, string]>;
  private readonly pruneStatement: Statement<[number, number]>;
  private readonly anyExpired: Statement<[number], { one: number }>;

  constructor(
    private readonly db: Db,
    private readonly serial: Serial,
  ) {
    const sqlite = db.sqlite;
    this.deleteExpired = sqlite.prepare('DELETE FROM idempotency_keys WHERE token_id = ? AND key = ? AND expires_at <= ?');
    this.insert = sqlite.prepare(
      `INSERT INTO idempotency_keys (token_id, key, fingerprint, pipeline, run_id, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    this.select = sqlite.prepare(`SELECT ${COLUMNS} FROM idempotency_keys WHERE token_id = ? AND key = ?`);
    this.completeStatement = sqlite.prepare('UPDATE idempotency_keys SET answer_status = ?, answer = ? WHERE token_id = ? AND key = ? AND run_id = ?');
    this.releaseStatement = sqlite.prepare('DELETE FROM idempotency_keys WHERE token_id = ? AND key = ? AND run_id = ?');
    this.pruneStatement = sqlite.prepare('DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)');
    this.anyExpired = sqlite.prepare('SELECT 1 AS one FROM idempotency_keys WHERE expires_at <= ? LIMIT 1');
  }

  claim(row: IdempotencyRow, now: number): Promise<{ claimed: boolean; row: IdempotencyRow }> {
    return this.serial(async () =>
      this.db.sqlite
        .transaction(() => {
          this.deleteExpired.run(row.tokenId, row.key, now);
          const inserted = this.insert.run(row.tokenId, row.key, row.fingerprint, row.pipeline, row.runId, row.createdAt, row.expiresAt).changes === 1;
          return inserted ? { claimed: true, row } : { claimed: false, row: this.select.get(row.tokenId, row.key)! };
        })
        .immediate(),
    );
  }

  async find(tokenId: string, key: string, now: number): Promise<IdempotencyRow | undefined> {
    const row = this.select.get(tokenId, key);
    return row && row.expiresAt > now ? row : undefined;
  }

  complete(tokenId: string, key: string, runId: string, answerStatus: number, answer: string): Promise<void> {
    return this.serial(async () => {
      this.db.sqlite.transaction(() => this.completeStatement.run(answerStatus, answer, tokenId, key, runId)).immediate();
    });
  }

  release(tokenId: string, key: string, runId: string): Promise<void> {
    return this.serial(async () => {
      this.db.sqlite.transaction(() => this.releaseStatement.run(tokenId, key, runId)).immediate();
    });
  }

  prune(now: number, limit: number): Promise<number> {
    // Most minutes nothing expired: answered by a read, without taking the file's write lock.
    if (this.anyExpired.get(now) === undefined) return Promise.resolve(0);
    return this.serial(async () => this.db.sqlite.transaction(() => this.pruneStatement.run(now, limit).changes).immediate());
  }
}

import type postgres from 'postgres';
import type { IdempotencyRepo, IdempotencyRow, RunEventRow, RunRepo, RunRow } from '../store';

/** Rows per INSERT statement: PostgreSQL binds at most 65,535 parameters in one. */
const ROWS_PER_STATEMENT = 4_000;

const IDEMPOTENCY_COLUMNS = `token_id AS "tokenId", key, fingerprint, pipeline, run_id AS "runId", created_at AS "createdAt",
  expires_at AS "expiresAt", answer_status AS "answerStatus", answer`;
const RUN_COLUMNS = `id, token_id AS "tokenId", pipeline, status, started_at AS "startedAt", ended_at AS "endedAt", output, error,
  last_seq AS "lastSeq", owner, heartbeat_at AS "heartbeatAt", cancel_requested_at AS "cancelRequestedAt"`;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** Idempotency keys on PostgreSQL: a claim is one INSERT … ON CONFLICT DO NOTHING, so one retry wins across instances. */
export class PostgresIdempotency implements IdempotencyRepo {
  constructor(private readonly sql: postgres.Sql) {}

  async claim(row: IdempotencyRow, now: number): Promise<{ claimed: boolean; row: IdempotencyRow }> {
    const sql = this.sql;
    // An expired row no longer holds the key (pruning may not have reached it yet).
    await sql`DELETE FROM idempotency_keys WHERE token_id = ${row.tokenId} AND key = ${row.key} AND expires_at <= ${now}`;
    const inserted = await sql`
      INSERT INTO idempotency_keys (token_id, key, fingerprint, pipeline, run_id, created_at, expires_at)
      VALUES (${row.tokenId}, ${row.key}, ${row.fingerprint}, ${row.pipeline}, ${row.runId}, ${row.createdAt}, ${row.expiresAt})
      ON CONFLICT DO NOTHING RETURNING 1`;
    if (inserted.length === 1) return { claimed: true, row };
    const [holder] = await sql.unsafe<IdempotencyRow[]>(`SELECT ${IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE token_id = $1 AND key = $2`, [row.tokenId, row.key]);
    // Deleted between the INSERT and the SELECT (released or pruned): try once more.
    return holder ? { claimed: false, row: holder } : this.claim(row, now);
  }

  async find(tokenId: string, key: string, now: number): Promise<IdempotencyRow | undefined> {
    const [row] = await this.sql.unsafe<IdempotencyRow[]>(`SELECT ${IDEMPOTENCY_COLUMNS} FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND expires_at > $3`, [tokenId, key, now]);
    return row;
  }

  async complete(tokenId: string, key: string, runId: string, answerStatus: number, answer: string): Promise<void> {
    await this.sql`UPDATE idempotency_keys SET answer_status = ${answerStatus}, answer = ${answer} WHERE token_id = ${tokenId} AND key = ${key} AND run_id = ${runId}`;
  }

  async release(tokenId: string, key: string, runId: string): Promise<void> {
    await this.sql`DELETE FROM idempotency_keys WHERE token_id = ${tokenId} AND key = ${key} AND run_id = ${runId}`;
  }

  async prune(now: number, limit: number): Promise<number> {
    const rows = await this.sql`
      DELETE FROM idempotency_keys WHERE (token_id, key) IN (
        SELECT token_id, key FROM idempotency_keys WHERE expires_at <= ${now} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING 1`;
    return rows.length;
  }
}

/** Runs and their events on PostgreSQL (see RunRepo). */
export class PostgresRuns implements RunRepo {
  constructor(private readonly sql: postgres.Sql) {}

  async write(runs: ReadonlyArray<Omit<RunRow, 'cancelRequestedAt'>>, events: readonly RunEventRow[]): Promise<void> {
    if (runs.length === 0 && events.length === 0) return;
    const runValues = runs.map((r) => ({
      id: r.id,
      token_id: r.tokenId,
      pipeline: r.pipeline,
      status: r.status,
      started_at: r.startedAt,
      ended_at: r.endedAt,
      output: r.output,
      error: r.error,
      last_seq: r.lastSeq,
      owner: r.owner,
      heartbeat_at: r.heartbeatAt,
    }));
    const eventValues = events.map((e) => ({ run_id: e.runId, seq: e.seq, event: e.event, data: e.data }));
    await this.sql.begin(async (tx) => {
      for (const chunk of chunks(runValues)) {
        // A run another instance declared lost (finishLost) stays as it was written then.
        await tx`
          INSERT INTO runs ${tx(chunk, 'id', 'token_id', 'pipeline', 'status', 'started_at', 'ended_at', 'output', 'error', 'last_seq', 'owner', 'heartbeat_at')}
          ON CONFLICT (id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at, output = excluded.output,
            error = excluded.error, last_seq = excluded.last_seq, heartbeat_at = excluded.heartbeat_at
          WHERE runs.status = 'running'`;
      }
      for (const chunk of chunks(eventValues)) {
        await tx`INSERT INTO run_events ${tx(chunk, 'run_id', 'seq', 'event', 'data')} ON CONFLICT DO NOTHING`;
      }
    });
  }

  async find(id: string): Promise<RunRow | undefined> {
    const [row] = await this.sql.unsafe<RunRow[]>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [id]);
    return row;
  }

  async latest(tokenId: string, pipeline: string, minSeq: number): Promise<RunRow | undefined> {
    const [row] = await this.sql.unsafe<RunRow[]>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE token_id = $1 AND pipeline = $2 AND last_seq >= $3 ORDER BY started_at DESC LIMIT 1`,
      [tokenId, pipeline, minSeq],
    );
    return row;
  }

  async eventsAfter(cursors: ReadonlyArray<{ runId: string; after: number }>): Promise<RunEventRow[]> {
    if (cursors.length === 0) return [];
    return this.sql<RunEventRow[]>`
      SELECT e.run_id AS "runId", e.seq, e.event, e.data
        FROM unnest(${cursors.map((c) => c.runId)}::text[], ${cursors.map((c) => c.after)}::int[]) AS f(id, after)
        JOIN run_events e ON e.run_id = f.id AND e.seq > f.after
       ORDER BY e.run_id, e.seq`;
  }

  async states(ids: readonly string[]): Promise<Array<Pick<RunRow, 'id' | 'status' | 'heartbeatAt' | 'lastSeq'>>> {
    if (ids.length === 0) return [];
    return this.sql<Array<Pick<RunRow, 'id' | 'status' | 'heartbeatAt' | 'lastSeq'>>>`
      SELECT id, status, heartbeat_at AS "heartbeatAt", last_seq AS "lastSeq" FROM runs WHERE id = ANY(${ids as string[]}::text[])`;
  }

  async requestCancel(id: string, tokenId: string, at: number): Promise<boolean> {
    const rows = await this.sql`
      UPDATE runs SET cancel_requested_at = coalesce(cancel_requested_at, ${at})
       WHERE id = ${id} AND token_id = ${tokenId} AND status = 'running' RETURNING 1`;
    return rows.length === 1;
  }

  async cancelRequested(owner: string): Promise<string[]> {
    const rows = await this.sql<Array<{ id: string }>>`
      SELECT id FROM runs WHERE owner = ${owner} AND status = 'running' AND cancel_requested_at IS NOT NULL`;
    return rows.map((r) => r.id);
  }

  async heartbeat(owner: string, at: number): Promise<void> {
    await this.sql`UPDATE runs SET heartbeat_at = ${at} WHERE owner = ${owner} AND status = 'running'`;
  }

  async finishLost(id: string, staleBefore: number, at: number, error: string, eventData: string): Promise<boolean> {
    return this.sql.begin(async (tx) => {
      const [row] = await tx<Array<{ lastSeq: number }>>`
        UPDATE runs SET status = 'failed', ended_at = ${at}, error = ${error}, last_seq = last_seq + 1
         WHERE id = ${id} AND status = 'running' AND heartbeat_at < ${staleBefore}
         RETURNING last_seq AS "lastSeq"`;
      if (!row) return false;
      await tx`INSERT INTO run_events (run_id, seq, event, data) VALUES (${id}, ${row.lastSeq}, 'run.failed', ${eventData}) ON CONFLICT DO NOTHING`;
      return true;
    });
  }

  async prune(endedBefore: number, limit: number): Promise<number> {
    const rows = await this.sql`
      DELETE FROM runs WHERE id IN (
        SELECT id FROM runs WHERE ended_at < ${endedBefore} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING 1`;
    return rows.length;
  }
}

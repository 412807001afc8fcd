import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import type { IdempotencyRow, RunEventRow, RunRepo, RunRow, Store } from '../db/store';
import { AppError } from '../errors';
import { finishLost, RemoteFollower, RemoteRun } from './remote';
import { Run, type RunFailure, type RunFeed, type RunKeeper, type RunView } from './run';
import { newRunId, RUN_ID_PATTERN } from './run-id';

/** How long an idempotency key holds (SPEC: 24 h). */
export const IDEMPOTENCY_TTL_MS = 86_400_000;

/**
 * What a finished run counts against MM_RUN_MEMORY besides its texts: the Run object, its Map
 * entry, its slot in the eviction queue, its id and names. Measured (V8, Node 20: heap growth over
 * 10,000 finished echo runs of two deltas, test/runs/service.test.ts) at ~0.5 KiB a run in all;
 * counted higher on purpose, so that the budget bounds the heap rather than approximates it.
 */
export const RUN_OVERHEAD_BYTES = 768;
/** Per delta besides its text (counted as UTF-16, two bytes a character): its string header and array slot. */
export const DELTA_OVERHEAD_BYTES = 48;

export const CANCELLED_MESSAGE = 'the run was cancelled (POST /v1/runs/:id/cancel)';

export interface RunServiceOptions {
  /** Finished runs are kept at least this long (MM_RUN_RETENTION), memory allowing. */
  retentionMs: number;
  /** What finished runs may hold in memory (MM_RUN_MEMORY); beyond it the oldest are dropped first. */
  memoryBytes: number;
  /** PostgreSQL: how often new events are written, in one batch (ms). */
  flushIntervalMs?: number;
  /** PostgreSQL: how often runs of other instances are read for new events (ms). */
  followIntervalMs?: number;
  /** PostgreSQL: how often this instance looks for cancels of its runs asked elsewhere (ms). */
  cancelCheckMs?: number;
  /** PostgreSQL: how often this instance says its running runs are alive (ms). */
  heartbeatMs?: number;
  /** PostgreSQL: a running run not heard of for this long was lost with its instance (ms). */
  leaseMs?: number;
  /** How often finished runs past their retention are dropped when nothing else happens (ms). */
  sweepIntervalMs?: number;
  /** How often expired idempotency keys (and, PostgreSQL, old runs) are pruned, in small batches (ms). */
  pruneIntervalMs?: number;
}

export const RUN_DEFAULTS = {
  flushIntervalMs: 75,
  followIntervalMs: 100,
  cancelCheckMs: 250,
  heartbeatMs: 5_000,
  leaseMs: 30_000,
  sweepIntervalMs: 10_000,
  pruneIntervalMs: 60_000,
  /** Rows one prune statement deletes; a tick runs at most `PRUNE_BATCHES` of them. */
  pruneBatch: 500,
  pruneBatches: 20,
} as const;

/** What became of an idempotency key that another request holds. */
export type KeyState =
  /** Its run ended: the stored answer is in the row. */
  | { state: 'answered'; row: IdempotencyRow }
  /** Its run is still going (here or on another instance). */
  | { state: 'running'; row: IdempotencyRow; feed: RunFeed }
  /** Its run just started elsewhere and cannot be read yet. */
  | { state: 'starting'; row: IdempotencyRow }
  /** Its run was lost (a restart, an instance that died) before it stored an answer. */
  | { state: 'lost'; row: IdempotencyRow };

/**
 * The runs of this process and the rules for reading them (SPEC "Runs"): every trigger creates a
 * run here; a finished run is kept at least `retentionMs`, within `memoryBytes` (the oldest
 * finished runs go first; running runs are never dropped).
 *
 * SQLite (one instance): runs live only in this memory; a restart loses the finished ones.
 * PostgreSQL: runs and their events are also written to the database, in batches every
 * `flushIntervalMs` (never a write per event) and at shutdown, so that any instance can answer for
 * them; another instance follows a running run by polling (RemoteFollower), cancels it through a
 * flag its owner checks every `cancelCheckMs`, and ends it as `run_interrupted` when its owner
 * stopped sending heartbeats for `leaseMs`.
 *
 * Idempotency keys live in the database on both (see `claimKey`).
 */
export class RunService implements RunKeeper {
  /** This process among the instances sharing a PostgreSQL database. */
  readonly instanceId = randomBytes(8).toString('hex');
  private readonly runs = new Map<string, Run>();
  private readonly names = new Map<string, string>();
  /** Finished runs in the order they ended; entries before `head` were dropped. */
  private finished: Run[] = [];
  private head = 0;
  private finishedBytes = 0;
  private running = 0;
  private readonly retentionMs: number;
  private readonly memoryBytes: number;
  private readonly settings: Required<Omit<RunServiceOptions, 'retentionMs' | 'memoryBytes'>>;
  private readonly repo: RunRepo | null;
  private readonly dirty: Set<Run> | null;
  private readonly follower: RemoteFollower | null;
  private flushing: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private onError: (error: unknown, what: string) => void = () => {};
  private lastHeartbeat = 0;
  private checkingCancels = false;
  private pruning = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    options: RunServiceOptions,
  ) {
    this.retentionMs = options.retentionMs;
    this.memoryBytes = options.memoryBytes;
    this.settings = {
      flushIntervalMs: options.flushIntervalMs ?? RUN_DEFAULTS.flushIntervalMs,
      followIntervalMs: options.followIntervalMs ?? RUN_DEFAULTS.followIntervalMs,
      cancelCheckMs: options.cancelCheckMs ?? RUN_DEFAULTS.cancelCheckMs,
      heartbeatMs: options.heartbeatMs ?? RUN_DEFAULTS.heartbeatMs,
      leaseMs: options.leaseMs ?? RUN_DEFAULTS.leaseMs,
      sweepIntervalMs: options.sweepIntervalMs ?? RUN_DEFAULTS.sweepIntervalMs,
      pruneIntervalMs: options.pruneIntervalMs ?? RUN_DEFAULTS.pruneIntervalMs,
    };
    this.repo = store.runs;
    this.dirty = this.repo ? new Set() : null;
    this.follower = this.repo
      ? new RemoteFollower(this.repo, clock, {
          intervalMs: this.settings.followIntervalMs,
          leaseCheckMs: Math.max(1_000, this.settings.heartbeatMs / 2),
          leaseMs: this.settings.leaseMs,
          onError: (error) => this.onError(error, 'reading runs of other instances failed'),
        })
      : null;
  }

  /** Whether runs are shared with other instances (PostgreSQL). */
  get shared(): boolean {
    return this.repo !== null;
  }

  /** Runs kept in this process (running and finished). */
  get size(): number {
    return this.runs.size;
  }

  /** What the finished runs kept count against MM_RUN_MEMORY. */
  get bytes(): number {
    return this.finishedBytes;
  }

  get runningCount(): number {
    return this.running;
  }

  // --- The trigger's path: cheap, synchronous, no database write on SQLite.

  /** A new running run, kept from now on. */
  create(tokenId: string, pipeline: string, background: boolean, id: string = newRunId()): Run {
    const run = this.reserve(tokenId, pipeline, background, id);
    this.dirty?.add(run);
    return run;
  }

  /**
   * A run for a request that must first win its idempotency key: found by id in this process at
   * once (so that a retry racing it sees it), written to the database only after `confirm`.
   * `discard` forgets it when the key was lost. It must not start before one of the two.
   */
  reserve(tokenId: string, pipeline: string, background: boolean, id: string): Run {
    const run = new Run(id, this.intern(tokenId), this.intern(pipeline), this.clock.now(), background, this);
    this.runs.set(id, run);
    this.running++;
    return run;
  }

  confirm(run: Run): void {
    this.dirty?.add(run);
  }

  discard(run: Run): void {
    if (run.status !== 'running' || this.runs.get(run.id) !== run) return;
    this.runs.delete(run.id);
    this.running--;
  }

  now(): number {
    return this.clock.now();
  }

  /**
   * One string per token id and pipeline slug for all the runs kept: each request brings its own
   * copies (read from the database, cut from the URL), and every object a kept run holds survives
   * into the old generation.
   */
  private intern(text: string): string {
    const known = this.names.get(text);
    if (known !== undefined) return known;
    if (this.names.size >= 10_000) this.names.clear();
    this.names.set(text, text);
    return text;
  }

  changed(run: Run): void {
    this.dirty?.add(run);
  }

  ended(run: Run): void {
    this.running--;
    run.bytes = runBytes(run);
    this.finishedBytes += run.bytes;
    this.finished.push(run);
    this.dirty?.add(run);
    this.evict(run.endedAt!);
  }

  /** Drops the finished runs past their retention (the timer's work; public for tests). */
  sweep(): void {
    this.evict(this.clock.now());
  }

  /** Drops finished runs past their retention, and the oldest beyond the memory budget. */
  private evict(now: number): void {
    const cutoff = now - this.retentionMs;
    const queue = this.finished;
    let head = this.head;
    while (head < queue.length) {
      const oldest = queue[head]!;
      if (this.finishedBytes <= this.memoryBytes && oldest.endedAt! > cutoff) break;
      head++;
      this.finishedBytes -= oldest.bytes;
      if (this.runs.get(oldest.id) === oldest) this.runs.delete(oldest.id);
    }
    if (head > 1_024 && head * 2 > queue.length) {
      this.finished = queue.slice(head);
      head = 0;
    }
    this.head = head;
  }

  // --- Reading runs

  /** A run of this process, by id (any token). */
  local(id: string): Run | undefined {
    return this.runs.get(id);
  }

  /**
   * The run `id` if `tokenId` started it: from this process, or (PostgreSQL) from the database.
   * Undefined for an unknown id, a run no longer kept, and another token's run alike (no oracle).
   */
  async find(id: string, tokenId: string): Promise<RunFeed | undefined> {
    if (!RUN_ID_PATTERN.test(id)) return undefined;
    const run = this.runs.get(id);
    if (run !== undefined) return run.tokenId === tokenId ? run : undefined;
    if (this.repo === null) return undefined;
    const row = await this.remoteRow(id);
    return row !== undefined && row.tokenId === tokenId ? new RemoteRun(row, this.follower!) : undefined;
  }

  private async remoteRow(id: string): Promise<RunRow | undefined> {
    const repo = this.repo!;
    let row = await repo.find(id);
    const now = this.clock.now();
    if (row !== undefined && row.status === 'running' && row.heartbeatAt < now - this.settings.leaseMs && row.owner !== this.instanceId) {
      await finishLost(repo, id, now, this.settings.leaseMs);
      row = await repo.find(id);
    }
    return row;
  }

  /**
   * The newest run of this token and pipeline that has event `minSeq`: what an EventSource that
   * reconnects without naming its run means. Scans this process's runs (a reconnect is rare; no
   * index is kept on the trigger's path for it) and, on PostgreSQL, asks the database too.
   */
  async findRecent(tokenId: string, pipeline: string, minSeq: number): Promise<RunFeed | undefined> {
    let best: Run | undefined;
    for (const run of this.runs.values()) {
      if (run.tokenId === tokenId && run.pipeline === pipeline && run.lastSeq >= minSeq && (best === undefined || run.startedAt >= best.startedAt)) best = run;
    }
    if (this.repo === null) return best;
    const row = await this.repo.latest(tokenId, pipeline, minSeq);
    if (row === undefined || (best !== undefined && best.startedAt >= row.startedAt)) return best;
    return (await this.find(row.id, tokenId)) ?? best;
  }

  /** `GET /v1/runs/:id`; `run_not_found` unless `tokenId` started it and it is still kept. */
  async view(id: string, tokenId: string): Promise<RunView> {
    const feed = await this.find(id, tokenId);
    if (feed === undefined) throw this.notFound(id);
    return feed.view();
  }

  /**
   * `POST /v1/runs/:id/cancel`: ends a running run with `run.failed` `cancelled` and stops its
   * pipeline (the child is killed, the request cancelled). A run of another instance is flagged
   * for its owner, and this waits (up to `waitMs`) for it to end. A run that ended stays as it
   * was. Answers the run as it is then.
   */
  async cancel(id: string, tokenId: string, waitMs = 3_000): Promise<RunView> {
    const run = this.runs.get(id);
    if (run !== undefined && run.tokenId === tokenId) {
      run.stop('cancelled', CANCELLED_MESSAGE);
      return run.view();
    }
    if (this.repo !== null && RUN_ID_PATTERN.test(id)) {
      const requested = await this.repo.requestCancel(id, tokenId, this.clock.now());
      const deadline = performance.now() + waitMs;
      while (requested && performance.now() < deadline) {
        const row = await this.repo.find(id);
        if (row === undefined || row.status !== 'running') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return this.view(id, tokenId);
  }

  notFound(id: string): AppError {
    const shown = RUN_ID_PATTERN.test(id) ? `run ${id}` : 'that run';
    return new AppError(
      'run_not_found',
      `${shown} does not exist here: it was started with another token, or ended more than ${Math.round(this.retentionMs / 60_000)} min ago and is no longer kept (MM_RUN_RETENTION)`,
    );
  }

  // --- Idempotency keys (Stripe's semantics, scoped to the token, kept 24 h)

  /**
   * Takes `key` for a new run `runId`, atomically across processes and instances. Answers true
   * when this request won it; otherwise what became of the request that holds it (`keyState`).
   */
  async claimKey(input: { tokenId: string; key: string; fingerprint: string; pipeline: string; runId: string }): Promise<true | KeyState> {
    const now = this.clock.now();
    const row: IdempotencyRow = { ...input, createdAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS, answerStatus: null, answer: null };
    const claim = await this.store.idempotency.claim(row, now);
    return claim.claimed ? true : this.keyState(claim.row);
  }

  /** The state of a key another request holds, or undefined when the token holds no such key. */
  async keyStateOf(tokenId: string, key: string): Promise<KeyState | undefined> {
    const row = await this.store.idempotency.find(tokenId, key, this.clock.now());
    return row ? this.keyState(row) : undefined;
  }

  private async keyState(row: IdempotencyRow): Promise<KeyState> {
    if (row.answer !== null) return { state: 'answered', row };
    let feed = await this.find(row.runId, row.tokenId);
    if (feed === undefined && this.repo !== null) {
      // Written by its instance at the next flush: wait for that, briefly.
      const deadline = performance.now() + 4 * this.settings.flushIntervalMs + 200;
      while (feed === undefined && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        feed = await this.find(row.runId, row.tokenId);
      }
    }
    if (feed === undefined) {
      return this.clock.now() - row.createdAt > this.settings.leaseMs || this.repo === null ? { state: 'lost', row } : { state: 'starting', row };
    }
    // Ended, but the answer is not stored yet (the write follows the end): the run has it.
    return { state: 'running', row, feed };
  }

  /** Stores the answer of a key's run, for its retries. */
  completeKey(tokenId: string, key: string, runId: string, answerStatus: number, answer: string): Promise<void> {
    return this.store.idempotency.complete(tokenId, key, runId, answerStatus, answer);
  }

  /** Gives a key back: its run was stopped because its client left, so a retry runs again. */
  releaseKey(tokenId: string, key: string, runId: string): Promise<void> {
    return this.store.idempotency.release(tokenId, key, runId);
  }

  /**
   * A key's run to read from its first event: the run itself while it is kept, otherwise rebuilt
   * from the stored answer (its `run.started` and its terminal event only).
   */
  async feedOfAnswered(row: IdempotencyRow): Promise<RunFeed> {
    const kept = await this.find(row.runId, row.tokenId);
    if (kept !== undefined && kept.status !== 'running') return kept;
    const answer = JSON.parse(row.answer!) as { output?: unknown; error?: RunFailure };
    return Run.restored(row.runId, row.tokenId, row.pipeline, row.createdAt, answer.error ? { failure: { code: answer.error.code, message: answer.error.message } } : { output: answer.output });
  }

  // --- Lifecycle

  /**
   * Starts the timers (none keeps the process alive): dropping runs past their retention, pruning
   * expired keys, and on PostgreSQL the batched writes, the cancel checks and the heartbeats.
   */
  start(onError: (error: unknown, what: string) => void = () => {}): void {
    if (this.timers.length > 0) return;
    this.onError = onError;
    this.follower?.start();
    const every = (ms: number, work: () => void) => {
      const timer = setInterval(work, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.settings.sweepIntervalMs, () => this.sweep());
    every(this.settings.pruneIntervalMs, () => void this.prune());
    if (this.repo !== null) {
      every(this.settings.flushIntervalMs, () => {
        if (this.dirty!.size > 0) this.flush().catch((error: unknown) => this.onError(error, 'writing runs to the database failed'));
      });
      every(this.settings.cancelCheckMs, () => void this.checkOwnRuns());
    }
  }

  /** Stops the timers and the following of other instances' runs (no writes). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.follower?.stop();
  }

  /** Ends every running run of this process with `run.failed` `code` and stops its pipeline. */
  endAll(code: string, message: string): void {
    for (const run of [...this.runs.values()]) if (run.status === 'running') run.stop(code, message);
  }

  /** Stops the timers and writes what is pending (PostgreSQL). */
  async close(): Promise<void> {
    this.stop();
    await this.flush();
  }

  /** Writes the runs changed since the last batch, with their new events, in one transaction (PostgreSQL). */
  flush(): Promise<void> {
    if (this.repo === null) return Promise.resolve();
    this.flushing ??= this.writeBatch().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    const dirty = this.dirty!;
    if (dirty.size === 0) return;
    const batch = [...dirty];
    dirty.clear();
    const now = this.clock.now();
    const rows: Array<Omit<RunRow, 'cancelRequestedAt'>> = [];
    const events: RunEventRow[] = [];
    const written: number[] = [];
    for (const run of batch) {
      const last = run.lastSeq;
      rows.push({
        id: run.id,
        tokenId: run.tokenId,
        pipeline: run.pipeline,
        status: run.status,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
        output: run.status === 'completed' ? JSON.stringify(run.output ?? null) : null,
        error: run.failure === null ? null : JSON.stringify(run.failure),
        lastSeq: last,
        owner: this.instanceId,
        heartbeatAt: now,
      });
      for (let seq = run.persistedSeq + 1; seq <= last; seq++) {
        const [event, data] = run.eventAt(seq);
        events.push({ runId: run.id, seq, event, data });
      }
      written.push(last);
    }
    try {
      await this.repo!.write(rows, events);
    } catch (error) {
      // Kept for the next batch: nothing is lost while the database is away.
      for (const run of batch) dirty.add(run);
      throw error;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.persistedSeq = Math.max(batch[i]!.persistedSeq, written[i]!);
  }

  /** PostgreSQL: cancels asked on other instances; every `heartbeatMs`, the heartbeat. */
  private async checkOwnRuns(): Promise<void> {
    if (this.running === 0 || this.checkingCancels) return;
    this.checkingCancels = true;
    try {
      const repo = this.repo!;
      for (const id of await repo.cancelRequested(this.instanceId)) this.runs.get(id)?.stop('cancelled', CANCELLED_MESSAGE);
      const now = this.clock.now();
      if (now - this.lastHeartbeat >= this.settings.heartbeatMs) {
        this.lastHeartbeat = now;
        await repo.heartbeat(this.instanceId, now);
      }
    } catch (error) {
      this.onError(error, 'checking this instance\'s runs for cancels failed');
    } finally {
      this.checkingCancels = false;
    }
  }

  /** Expired idempotency keys and (PostgreSQL) runs past their retention, a few batches per tick. */
  async prune(): Promise<void> {
    if (this.pruning) return;
    this.pruning = true;
    try {
      const now = this.clock.now();
      for (let i = 0; i < RUN_DEFAULTS.pruneBatches; i++) {
        if ((await this.store.idempotency.prune(now, RUN_DEFAULTS.pruneBatch)) < RUN_DEFAULTS.pruneBatch) break;
      }
      if (this.repo !== null) {
        for (let i = 0; i < RUN_DEFAULTS.pruneBatches; i++) {
          if ((await this.repo.prune(now - this.retentionMs, RUN_DEFAULTS.pruneBatch)) < RUN_DEFAULTS.pruneBatch) break;
        }
      }
    } catch (error) {
      this.onError(error, 'pruning old runs and idempotency keys failed');
    } finally {
      this.pruning = false;
    }
  }
}

/** What a finished run counts against the memory budget (see RUN_OVERHEAD_BYTES). */
export function runBytes(run: Run): number {
  const texts = run.textFootprint();
  let bytes = RUN_OVERHEAD_BYTES + texts.bytes + texts.strings * DELTA_OVERHEAD_BYTES + (run.lastSeq - 2) * 8;
  const output = run.output;
  if (typeof output === 'string') bytes += output.length * 2;
  else if (output !== undefined && output !== null) bytes += (JSON.stringify(output)?.length ?? 0) * 2;
  if (run.failure !== null) bytes += (run.failure.code.length + run.failure.message.length) * 2 + 64;
  return bytes;
}

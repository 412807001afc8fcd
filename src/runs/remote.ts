import { formatTime, type Clock } from '../clock';
import type { RunEventRow, RunRepo, RunRow } from '../db/store';
import { isTerminal, type RunFailure, type RunFeed, type RunListener, type RunStatus, type RunView } from './run';

/** How a run lost with its instance ends (its owner stopped sending heartbeats). */
export const LOST_RUN: RunFailure = {
  code: 'run_interrupted',
  message: 'the server instance running this run stopped before it ended; its outcome is unknown',
};

/** A run that another instance runs (or ran), read from PostgreSQL. */
export class RemoteRun implements RunFeed {
  constructor(
    private readonly row: RunRow,
    private readonly follower: RemoteFollower,
  ) {}

  get id(): string {
    return this.row.id;
  }

  get tokenId(): string {
    return this.row.tokenId;
  }

  get pipeline(): string {
    return this.row.pipeline;
  }

  get status(): RunStatus {
    return this.row.status;
  }

  get lastSeq(): number {
    return this.row.lastSeq;
  }

  subscribe(after: number, listener: RunListener): () => void {
    return this.follower.follow(this.row.id, after, listener);
  }

  view(): RunView {
    const row = this.row;
    const view: RunView = {
      run_id: row.id,
      pipeline: row.pipeline,
      status: row.status,
      started_at: formatTime(row.startedAt),
      ended_at: row.endedAt === null ? null : formatTime(row.endedAt),
    };
    if (row.status === 'completed') view.output = row.output === null ? null : (JSON.parse(row.output) as unknown);
    else if (row.status === 'failed') view.error = row.error === null ? LOST_RUN : (JSON.parse(row.error) as RunFailure);
    return view;
  }
}

interface Subscription {
  runId: string;
  after: number;
  listener: RunListener;
  done: boolean;
}

export interface FollowerOptions {
  /** How often the followed runs' new events are read (ms). */
  intervalMs: number;
  /** How often the followed runs' owners are checked for being alive (ms). */
  leaseCheckMs: number;
  /** A running run whose owner has not sent a heartbeat for this long was lost with it (ms). */
  leaseMs: number;
  onError(error: unknown): void;
}

/**
 * Follows runs of other instances by polling PostgreSQL: one query per tick for every run
 * followed (`eventsAfter` with each run's cursor), so the cost does not grow with the number of
 * readers. An event reaches a reader here within the owner's flush interval plus this interval
 * (≈ 75 ms + 100 ms by default; docs/runs.md has the measurement). A followed run whose owner
 * stopped sending heartbeats is ended as `run_interrupted` (by whichever instance notices first).
 */
export class RemoteFollower {
  private readonly subscriptions = new Set<Subscription>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private lastLeaseCheck = 0;
  private stopped = false;

  constructor(
    private readonly repo: RunRepo,
    private readonly clock: Clock,
    private readonly options: FollowerOptions,
  ) {}

  get size(): number {
    return this.subscriptions.size;
  }

  follow(runId: string, after: number, listener: RunListener): () => void {
    const subscription: Subscription = { runId, after, listener, done: false };
    this.subscriptions.add(subscription);
    if (this.timer === undefined && !this.stopped) {
      this.timer = setInterval(() => void this.poll(), this.options.intervalMs);
      this.timer.unref();
    }
    // The events so far at once, not a tick later.
    setImmediate(() => void this.poll());
    return () => this.drop(subscription);
  }

  private drop(subscription: Subscription): void {
    subscription.done = true;
    this.subscriptions.delete(subscription);
    if (this.subscriptions.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One read for every run followed; polls never overlap (one asked for meanwhile runs right after). */
  poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = this.readOnce().finally(() => {
      this.polling = undefined;
      if (this.again) {
        this.again = false;
        void this.poll();
      }
    });
    return this.polling;
  }

  private async readOnce(): Promise<void> {
    if (this.subscriptions.size === 0) return;
    const cursors = new Map<string, number>();
    for (const s of this.subscriptions) cursors.set(s.runId, Math.min(s.after, cursors.get(s.runId) ?? s.after));
    let rows: RunEventRow[];
    try {
      rows = await this.repo.eventsAfter([...cursors].map(([runId, after]) => ({ runId, after })));
    } catch (error) {
      this.options.onError(error);
      return;
    }
    const byRun = new Map<string, RunEventRow[]>();
    for (const row of rows) {
      let list = byRun.get(row.runId);
      if (list === undefined) byRun.set(row.runId, (list = []));
      list.push(row);
    }
    for (const subscription of [...this.subscriptions]) {
      const events = byRun.get(subscription.runId);
      if (events === undefined) continue;
      try {
        for (const event of events) {
          if (subscription.done) break;
          // Only the next event in sequence: a gap (an event not yet committed) waits for the next poll.
          if (event.seq !== subscription.after + 1) continue;
          subscription.after = event.seq;
          subscription.listener.event(event.seq, event.event, event.data);
          if (isTerminal(event.event)) {
            this.drop(subscription);
            subscription.listener.end();
          }
        }
      } catch (error) {
        // One reader's failure is its own: the others go on.
        this.drop(subscription);
        this.options.onError(error);
      }
    }
    await this.checkLeases();
  }

  private async checkLeases(): Promise<void> {
    const now = this.clock.now();
    if (this.subscriptions.size === 0 || now - this.lastLeaseCheck < this.options.leaseCheckMs) return;
    this.lastLeaseCheck = now;
    try {
      const states = await this.repo.states([...new Set([...this.subscriptions].map((s) => s.runId))]);
      for (const state of states) {
        if (state.status === 'running' && state.heartbeatAt < now - this.options.leaseMs) await finishLost(this.repo, state.id, now, this.options.leaseMs);
      }
    } catch (error) {
      this.options.onError(error);
    }
  }

  /** Follows again after `stop` (a server started again on the same services). */
  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Ends a run lost with its instance (see LOST_RUN); answers whether this call did. */
export function finishLost(repo: RunRepo, id: string, now: number, leaseMs: number): Promise<boolean> {
  return repo.finishLost(id, now - leaseMs, now, JSON.stringify(LOST_RUN), JSON.stringify({ run_id: id, error: LOST_RUN }));
}


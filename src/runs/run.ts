import { formatTime } from '../clock';

/**
 * A run: one trigger's execution of a pipeline, kept with its events after it ends so that a
 * caller can read its status, resume its stream from any event, or get its answer again.
 *
 * Its events are implied by what it holds, so a run stores no event objects: event 1 is
 * `run.started`, events 2 … n+1 are its n `message.delta`s, and once it ended event n+2 is
 * `run.completed` or `run.failed`. The sequence numbers are the SSE ids. Event data is made (as
 * one-line JSON) only when something reads it: a JSON-mode run that nobody follows never
 * serialises a delta.
 */

export type RunStatus = 'running' | 'completed' | 'failed';

export interface RunFailure {
  code: string;
  message: string;
}

export const RUN_STARTED = 'run.started';
export const MESSAGE_DELTA = 'message.delta';
export const RUN_COMPLETED = 'run.completed';
export const RUN_FAILED = 'run.failed';

/** Receives a run's events in order, each once, then `end` after the terminal one. */
export interface RunListener {
  /** An event: its sequence number, name and data (one-line JSON text). */
  event(seq: number, name: string, data: string): void;
  /** The terminal event was delivered; nothing follows. */
  end(): void;
}

/** `GET /v1/runs/:id` (SPEC): times as RFC 3339; `output` only when completed, `error` only when failed. */
export interface RunView {
  run_id: string;
  pipeline: string;
  status: RunStatus;
  started_at: string;
  ended_at: string | null;
  output?: unknown;
  error?: RunFailure;
}

/**
 * A run as a reader sees it, wherever it runs: in this process (`Run`), or on another instance
 * sharing the PostgreSQL database (read from there).
 */
export interface RunFeed {
  readonly id: string;
  readonly tokenId: string;
  readonly pipeline: string;
  readonly status: RunStatus;
  /** The sequence number of its last event so far. */
  readonly lastSeq: number;
  /**
   * Delivers every event after `after` (0: from the first), then the live ones as they happen,
   * then `end`. Answers a function that stops the delivery (idempotent). A local run replays
   * synchronously, inside this call.
   */
  subscribe(after: number, listener: RunListener): () => void;
  view(): RunView;
}

/** What a run tells the registry that keeps it. */
export interface RunKeeper {
  now(): number;
  /** The run has events not yet written to the shared database (PostgreSQL only). */
  changed(run: Run): void;
  /** The run ended (its terminal event exists). */
  ended(run: Run): void;
}

const NOOP = (): void => {};

/** A `message.delta` event's data, live or replayed: `{"text":…}` (the OpenAI door reads its JSON string as it is). */
function deltaData(text: string): string {
  return `{"text":${JSON.stringify(text)}}`;
}

export class Run implements RunFeed {
  status: RunStatus = 'running';
  endedAt: number | null = null;
  /**
   * The texts of its `message.delta` events, in order; null once they were folded into `ends`.
   * Most pipelines' output is their deltas joined (echo, command, openai): a completed run then
   * keeps only where each delta ends in the output, and no string of its own per delta. Every
   * kept run outlives the young generation, so each object it keeps costs the collector.
   */
  private texts: string[] | null = [];
  /** End offsets of the deltas in `output` (after folding). */
  private ends: number[] | null = null;
  private deltaCount = 0;
  /** The output (completed runs). */
  output: unknown = undefined;
  /** Why it failed (failed runs). */
  failure: RunFailure | null = null;
  /** What it counts against the memory budget, set when it ends. */
  bytes = 0;
  /** Events 1 … persistedSeq are in the shared database (PostgreSQL). */
  persistedSeq = 0;
  private stopper: ((why: string) => void) | null = null;
  private listeners: RunListener[] | null = null;
  private endWaiters: Array<() => void> | null = null;

  constructor(
    readonly id: string,
    readonly tokenId: string,
    readonly pipeline: string,
    readonly startedAt: number,
    /** `Mechamental-Run-Mode: background`: the run goes on when its client leaves. */
    readonly background: boolean,
    private readonly keeper: RunKeeper | null,
  ) {}

  /**
   * A finished run rebuilt from a stored answer (an idempotency key that outlived its run): its
   * first and terminal events only. Kept nowhere.
   */
  static restored(id: string, tokenId: string, pipeline: string, at: number, end: { output: unknown } | { failure: RunFailure }): Run {
    const run = new Run(id, tokenId, pipeline, at, false, null);
    run.endedAt = at;
    if ('failure' in end) {
      run.status = 'failed';
      run.failure = end.failure;
    } else {
      run.status = 'completed';
      run.output = end.output;
    }
    return run;
  }

  get ended(): boolean {
    return this.status !== 'running';
  }

  get lastSeq(): number {
    return this.status === 'running' ? 1 + this.deltaCount : 2 + this.deltaCount;
  }

  /** How to stop what runs it (kill the child, cancel the request); called once, by `stop`. */
  onStop(stopper: (why: string) => void): void {
    this.stopper = stopper;
  }

  /** Calls `callback` once when the run ends (at once if it has). */
  whenEnded(callback: () => void): void {
    if (this.ended) callback();
    else (this.endWaiters ??= []).push(callback);
  }

  /** A `message.delta`; ignored once the run ended. */
  delta(text: string): void {
    if (this.status !== 'running') return;
    this.texts!.push(text);
    this.deltaCount++;
    if (this.listeners !== null) {
      const data = deltaData(text);
      const seq = 1 + this.deltaCount;
      for (const listener of this.listeners.slice()) listener.event(seq, MESSAGE_DELTA, data);
    }
    this.keeper?.changed(this);
  }

  /** Ends the run with `run.completed`; ignored once it ended. */
  complete(output: unknown): void {
    if (this.status !== 'running') return;
    this.status = 'completed';
    this.output = output;
    this.fold();
    this.finish();
  }

  /** Keeps the deltas as offsets into the output when they add up to it (see `texts`). */
  private fold(): void {
    const texts = this.texts!;
    const output = this.output;
    if (texts.length === 0 || typeof output !== 'string') return;
    let end = 0;
    const ends: number[] = new Array<number>(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i]!;
      if (!output.startsWith(text, end)) return;
      ends[i] = end += text.length;
    }
    if (end !== output.length) return;
    this.ends = ends;
    this.texts = null;
  }

  /** The text of delta `index` (0-based). */
  deltaText(index: number): string {
    if (this.texts !== null) return this.texts[index]!;
    return (this.output as string).slice(index === 0 ? 0 : this.ends![index - 1], this.ends![index]);
  }

  /** Its deltas' texts joined (when they add up to its output, the output itself); undefined when it gave none. */
  deltasJoined(): string | undefined {
    if (this.deltaCount === 0) return undefined;
    return this.texts === null ? (this.output as string) : this.texts.join('');
  }

  /** What its delta texts hold, in bytes (UTF-16), and how many strings: for the memory budget. */
  textFootprint(): { bytes: number; strings: number } {
    if (this.texts === null) return { bytes: 0, strings: 0 };
    let bytes = 0;
    for (const text of this.texts) bytes += text.length * 2;
    return { bytes, strings: this.texts.length };
  }

  /** Ends the run with `run.failed`; ignored once it ended. */
  fail(code: string, message: string): void {
    if (this.status !== 'running') return;
    this.status = 'failed';
    this.failure = { code, message };
    this.finish();
  }

  /**
   * Ends a running run now with `run.failed` {code, message} and stops its pipeline (cancel,
   * revoke, the client gone, shutdown). Does nothing to a run that has ended.
   */
  stop(code: string, message: string): void {
    if (this.status !== 'running') return;
    const stopper = this.stopper;
    this.fail(code, message);
    stopper?.(code);
  }

  private finish(): void {
    this.endedAt = this.keeper ? this.keeper.now() : this.startedAt;
    // A kept run must hold nothing of the request that ran it: the stopper's closure reaches the
    // pipeline's control and, through its scope, the request and the response.
    this.stopper = null;
    const listeners = this.listeners;
    const waiters = this.endWaiters;
    this.listeners = null;
    this.endWaiters = null;
    // The registry learns of the end whatever a listener or waiter does.
    try {
      if (listeners !== null) {
        const seq = this.lastSeq;
        const [name, data] = this.eventAt(seq);
        for (const listener of listeners) listener.event(seq, name, data);
        for (const listener of listeners) listener.end();
      }
    } finally {
      try {
        if (waiters !== null) for (const waiter of waiters) waiter();
      } finally {
        this.keeper?.ended(this);
      }
    }
  }

  /** Event `seq` (1 … lastSeq) as [name, data]. */
  eventAt(seq: number): [string, string] {
    // Written out rather than stringified objects: the same JSON, without an object per event.
    if (seq === 1) return [RUN_STARTED, `{"run_id":${JSON.stringify(this.id)},"pipeline":${JSON.stringify(this.pipeline)}}`];
    if (seq <= this.deltaCount + 1) return [MESSAGE_DELTA, deltaData(this.deltaText(seq - 2))];
    if (this.status === 'completed') return [RUN_COMPLETED, `{"run_id":${JSON.stringify(this.id)},"output":${JSON.stringify(this.output ?? null)}}`];
    return [RUN_FAILED, JSON.stringify({ run_id: this.id, error: this.failure })];
  }

  subscribe(after: number, listener: RunListener): () => void {
    const last = this.lastSeq;
    for (let seq = Math.max(after, 0) + 1; seq <= last; seq++) {
      const [name, data] = this.eventAt(seq);
      listener.event(seq, name, data);
    }
    if (this.status !== 'running') {
      listener.end();
      return NOOP;
    }
    (this.listeners ??= []).push(listener);
    return () => {
      if (this.listeners === null) return;
      const at = this.listeners.indexOf(listener);
      if (at !== -1) this.listeners.splice(at, 1);
    };
  }

  view(): RunView {
    const view: RunView = {
      run_id: this.id,
      pipeline: this.pipeline,
      status: this.status,
      started_at: formatTime(this.startedAt),
      ended_at: this.endedAt === null ? null : formatTime(this.endedAt),
    };
    if (this.status === 'completed') view.output = this.output ?? null;
    else if (this.status === 'failed') view.error = this.failure!;
    return view;
  }
}

/** A terminal event's name? */
export function isTerminal(name: string): boolean {
  return name === RUN_COMPLETED || name === RUN_FAILED;
}

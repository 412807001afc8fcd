import type { Services } from './services';
import type { AttemptObserver } from './webhooks/service';
import { workerName } from './webhooks/service';

export interface BackgroundOptions {
  /** How often the outbox is checked for due deliveries (a cheap read when nothing is due); default 1 s. */
  deliverEveryMs?: number;
  /** How often the expiry scan runs; default 15 s (an expiry notice is written at most this late). */
  scanEveryMs?: number;
  /** How often old usage rows and finished deliveries are pruned; default 1 h (and once at start). */
  pruneEveryMs?: number;
  onError?: (error: unknown, job: string) => void;
  observe?: AttemptObserver;
}

/** Runs `work` one at a time; a call while it runs schedules one more run after it (not one per call). */
class SingleFlight {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly work: () => Promise<void>) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.work();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Resolves when the current run (if any) is over. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }
}

/**
 * What `serve` does in the background, on the services' clock: delivers due webhook events (the
 * outbox), writes expiry notices (the scan), and prunes usage rows and finished deliveries past
 * their retention. Several instances may run this on one PostgreSQL database: each delivery is
 * claimed by one of them, each scan range by one. Timers never keep the process alive. `poke` runs
 * the scan and the deliveries now (tests move a ManualClock, then poke).
 */
export class BackgroundJobs {
  /** This worker's name, the owner of its delivery leases. */
  readonly owner = workerName();
  private readonly controller = new AbortController();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly deliveries: SingleFlight;
  private readonly scan: SingleFlight;
  private readonly prune: SingleFlight;

  constructor(
    private readonly services: Services,
    private readonly options: BackgroundOptions = {},
  ) {
    const report = (job: string) => (error: unknown) => {
      if (!this.stopped) this.options.onError?.(error, job);
    };
    this.deliveries = new SingleFlight(() =>
      services.webhooks
        .deliverDue(this.owner, { signal: this.controller.signal, ...(options.observe ? { observe: options.observe } : {}) })
        .then(() => undefined, report('webhook deliveries')),
    );
    this.scan = new SingleFlight(() =>
      services.webhooks.scanExpiries().then(
        (events) => {
          if (events > 0) void this.deliveries.run();
        },
        report('expiry scan'),
      ),
    );
    this.prune = new SingleFlight(async () => {
      await services.usageReport.prune(services.config.usageRetentionMs).catch(report('usage pruning'));
      await services.webhooks.prune().catch(report('delivery pruning'));
    });
  }

  start(): void {
    if (this.timers.length > 0 || this.stopped) return;
    const every = (ms: number, job: SingleFlight) => {
      const timer = setInterval(() => void job.run(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.deliverEveryMs ?? 1_000, this.deliveries);
    every(this.options.scanEveryMs ?? 15_000, this.scan);
    every(this.options.pruneEveryMs ?? 3_600_000, this.prune);
    this.services.webhooks.onEnqueued = () => {
      if (!this.stopped) void this.deliveries.run();
    };
    void this.scan.run();
    void this.prune.run();
  }

  /** The expiry scan, then every due delivery, now; resolves when both are done. */
  async poke(): Promise<void> {
    await this.scan.run();
    await this.deliveries.run();
  }

  /** Prunes now; resolves when done. */
  pruneNow(): Promise<void> {
    return this.prune.run();
  }

  /** Stops at once, for a server that can no longer be trusted: timers off, attempts cut, no database writes. */
  halt(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.services.webhooks.onEnqueued = undefined;
    this.controller.abort();
  }

  /**
   * Stops the timers, cuts attempts in flight short (their deliveries stay due, to be retried at
   * once by whoever runs next), waits for the jobs to end and gives back this worker's leases.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.services.webhooks.onEnqueued = undefined;
    this.controller.abort();
    await Promise.all([this.deliveries.idle(), this.scan.idle(), this.prune.idle()]);
    await this.services.webhooks.releaseLeases(this.owner).catch(() => {});
  }
}

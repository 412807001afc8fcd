import type { Logger } from './log';

/**
 * Background jobs of a running server (pruning old rows and the like): each runs every `intervalMs`
 * — and once soon after start — never overlapping itself; a failure is logged and the job runs again
 * at its next turn. Timers never keep the process alive; `stop` waits for running jobs to end.
 */
export class Housekeeping {
  private readonly jobs: Array<{ name: string; intervalMs: number; run: () => Promise<unknown>; timer?: NodeJS.Timeout; running?: Promise<void> }> = [];
  private started = false;

  constructor(private readonly logger: Logger) {}

  add(name: string, intervalMs: number, run: () => Promise<unknown>): void {
    this.jobs.push({ name, intervalMs, run });
  }

  start(firstRunAfterMs = 5_000): void {
    if (this.started) return;
    this.started = true;
    for (const job of this.jobs) {
      const tick = () => {
        if (job.running) return;
        job.running = job
          .run()
          .then(
            (result) => {
              if (typeof result === 'number' && result > 0) this.logger.info({ job: job.name, rows: result }, 'housekeeping');
            },
            (error: unknown) => this.logger.error({ err: error, job: job.name }, 'housekeeping failed; it runs again at its next turn'),
          )
          .finally(() => (job.running = undefined));
      };
      const first = setTimeout(() => {
        tick();
        job.timer = setInterval(tick, job.intervalMs);
        job.timer.unref();
      }, Math.min(firstRunAfterMs, job.intervalMs));
      first.unref();
      job.timer = first;
    }
  }

  async stop(): Promise<void> {
    for (const job of this.jobs) clearTimeout(job.timer);
    await Promise.all(this.jobs.map((job) => job.running));
    this.started = false;
  }
}

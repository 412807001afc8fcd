import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics on a Registry of their own (never prom-client's global one, so that several
 * servers in one process — tests, benchmarks — do not collide).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'mechamental_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status (499: the client went away before the answer, as nginx counts it).',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'mechamental_auth_failures_total',
    help: 'Rejected authentications, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly openStreams = new Gauge({
    name: 'mechamental_sse_streams_open',
    help: 'Server-sent event streams open now.',
    registers: [this.registry],
  });
  readonly runDuration = new Histogram({
    name: 'mechamental_pipeline_run_duration_seconds',
    help: 'Pipeline run durations, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });

  readonly webhookAttempts = new Counter({
    name: 'mechamental_webhook_attempts_total',
    help: 'Webhook delivery attempts, by outcome (delivered, http_status, timeout, network, address_refused, dns).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookGaveUp = new Counter({
    name: 'mechamental_webhook_deliveries_failed_total',
    help: 'Webhook deliveries given up after their retry period (MM_WEBHOOK_RETRY_FOR).',
    registers: [this.registry],
  });
  readonly webhookDuration = new Histogram({
    name: 'mechamental_webhook_attempt_duration_seconds',
    help: 'Webhook delivery attempt durations.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** Counts one webhook delivery attempt. */
  observeWebhookAttempt(outcome: string, seconds: number, gaveUp: boolean): void {
    this.webhookAttempts.labels(outcome).inc();
    this.webhookDuration.observe(seconds);
    if (gaveUp) this.webhookGaveUp.inc();
  }

  private changeFeedUp: (() => boolean) | undefined;
  readonly changeFeed = new Gauge({
    name: 'mechamental_change_feed_up',
    help: 'Whether this instance receives token changes from other processes and instances (1) or not (0): on PostgreSQL, its LISTEN connection.',
    registers: [this.registry],
    collect: () => {
      if (this.changeFeedUp) this.changeFeed.set(this.changeFeedUp() ? 1 : 0);
    },
  });

  private runsKept: (() => { count: number; bytes: number }) | undefined;
  readonly keptRuns = new Gauge({
    name: 'mechamental_runs_kept',
    help: 'Runs this process keeps (running and finished) for status, resume and replay.',
    registers: [this.registry],
    collect: () => {
      if (this.runsKept) this.keptRuns.set(this.runsKept().count);
    },
  });
  readonly keptRunBytes = new Gauge({
    name: 'mechamental_runs_kept_bytes',
    help: 'What the finished runs kept count against MM_RUN_MEMORY, in bytes.',
    registers: [this.registry],
    collect: () => {
      if (this.runsKept) this.keptRunBytes.set(this.runsKept().bytes);
    },
  });

  /** Reports the runs kept (see `keptRuns`). */
  watchRuns(kept: () => { count: number; bytes: number }): void {
    this.runsKept = kept;
  }

  /** Reports the health of the change feed (see `changeFeed`). */
  watchChangeFeed(up: () => boolean): void {
    this.changeFeedUp = up;
  }

  /** Hoisted label children for the trigger hot path: one Map lookup instead of label hashing. */
  private readonly requestChildren = new Map<string, { inc(): void }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      // Node's and the process's metrics under their standard names (process_*, nodejs_*), so that stock
      // dashboards find them. prom-client also exports three gauges named *_total, which Prometheus
      // reserves for counters (promtool refuses them); their per-type siblings without _total stay.
      collectDefaultMetrics({ register: this.registry });
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    }
  }

  /**
   * A counter of one route and method's requests by status, for a hot path: one array lookup per
   * request instead of building a label key.
   */
  requestCounter(route: string, method: string): (status: number) => void {
    const byStatus: Array<{ inc(): void } | undefined> = [];
    return (status) => {
      let child = byStatus[status];
      if (child === undefined) byStatus[status] = child = this.requests.labels(route, method, String(status));
      child.inc();
    };
  }

  countRequest(route: string, method: string, status: number): void {
    const key = `${route} ${method} ${status}`;
    let child = this.requestChildren.get(key);
    if (child === undefined) {
      child = this.requests.labels(route, method, String(status));
      this.requestChildren.set(key, child);
    }
    child.inc();
  }

  private readonly runChildren = new Map<string, { observe(value: number): void }>();

  observeRun(kind: string, outcome: string, seconds: number): void {
    const key = `${kind} ${outcome}`;
    let child = this.runChildren.get(key);
    if (child === undefined) {
      child = this.runDuration.labels(kind, outcome);
      this.runChildren.set(key, child);
    }
    child.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

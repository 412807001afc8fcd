import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

/**
 * Prometheus metrics on a Registry of their own (never prom-client's global one, so that several
 * servers in one process — tests, benchmarks — do not collide).
 */
export class Metrics {
  readonly registry = new Registry();
  /** Counts of the hot paths' counters (requestCounter) not yet added to `requests`: added when it is read. */
  private readonly pendingRequests: Array<() => void> = [];
  readonly requests = new Counter({
    name: 'mechamental_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status (499: the client went away before the answer, as nginx counts it).',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      for (const flush of this.pendingRequests) flush();
    },
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
  readonly runDuration = new HotHistogram(
    'mechamental_pipeline_run_duration_seconds',
    'Pipeline run durations, by kind and outcome.',
    ['kind', 'outcome'],
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    this.registry,
  );

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

  /** The request counters of `countRequest`, by route and method. */
  private readonly requestCounters = new Map<string, (status: number) => void>();

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
   * A counter of one route and method's requests by status, for a hot path: an array increment per
   * request, added to `requests` whenever it is read (a scrape). prom-client's own `inc` builds and
   * checks a label key on every call (~1 % of a trigger request in a profile).
   */
  requestCounter(route: string, method: string): (status: number) => void {
    const pending: number[] = [];
    this.pendingRequests.push(() => {
      for (let status = 0; status < pending.length; status++) {
        const count = pending[status];
        if (count === undefined || count === 0) continue;
        pending[status] = 0;
        this.requests.labels(route, method, String(status)).inc(count);
      }
    });
    return (status) => {
      pending[status] = (pending[status] ?? 0) + 1;
    };
  }

  /** Counts a request of any route (a requestCounter made on its first use). */
  countRequest(route: string, method: string, status: number): void {
    const key = `${route} ${method}`;
    let count = this.requestCounters.get(key);
    if (count === undefined) this.requestCounters.set(key, (count = this.requestCounter(route, method)));
    count(status);
  }

  observeRun(kind: string, outcome: string, seconds: number): void {
    this.runDuration.observe(kind, outcome, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A metric's series as prom-client's registry reads them (its own typings call the type an enum; it is this text). */
interface MetricSeries {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
}

/** One label set's buckets (not cumulative; the last counts what is above every bound), sum and count. */
interface HistogramSeries {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with two labels for a hot path (a run's duration, once per trigger): observing is a
 * two-level map lookup and an array increment. prom-client's labelled `observe` builds and checks a
 * label key and an object on every call (~2 % of a trigger request in a profile of the executable).
 * Registered in a prom-client Registry and read by it exactly as its own Histogram is: the same
 * `_bucket` (cumulative, `le`, then `+Inf`), `_sum` and `_count` series.
 */
export class HotHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, Map<string, HistogramSeries>>();
  /** The same series in the order they were first observed (the order prom-client shows them in). */
  private readonly ordered: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly [string, string],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observe(first: string, second: string, value: number): void {
    let inner = this.series.get(first);
    if (inner === undefined) this.series.set(first, (inner = new Map()));
    let series = inner.get(second);
    if (series === undefined) {
      series = { labels: { [this.labelNames[0]]: first, [this.labelNames[1]]: second }, buckets: new Array<number>(this.upperBounds.length + 1).fill(0), sum: 0, count: 0 };
      inner.set(second, series);
      this.ordered.push(series);
    }
    let bucket = 0;
    while (bucket < this.upperBounds.length && value > this.upperBounds[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.sum += value;
    series.count++;
  }

  /** The series as prom-client's registry reads a metric (Registry#getMetricsAsString, #getMetricsAsJSON). */
  async get(): Promise<MetricSeries> {
    const values: MetricSeries['values'] = [];
    for (const { labels, buckets, sum, count } of this.ordered) {
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { le: bound, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
    this.ordered.length = 0;
  }
}

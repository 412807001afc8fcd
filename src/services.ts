import { AppService, PipelineService } from './apps/apps';
import { AuditLog, type Actor } from './audit/audit';
import { systemClock, type Clock } from './clock';
import type { Config } from './config';
import { ConsoleSessionService } from './console/sessions';
import { openStore } from './db/open-store';
import type { Store } from './db/store';
import { RunService } from './runs/service';
import { TokenService } from './tokens/service';
import { UsageRecorder } from './tokens/usage';
import { UsageReport } from './tokens/usage-report';
import { webhookSettings, WebhookService } from './webhooks/service';

/**
 * Everything the HTTP API, the CLI and the TUI call: one implementation of each rule, on one store
 * (the SQLite file, or the shared PostgreSQL database).
 */
export interface Services {
  readonly store: Store;
  readonly clock: Clock;
  readonly config: Config;
  readonly apps: AppService;
  readonly pipelines: PipelineService;
  readonly tokens: TokenService;
  readonly audit: AuditLog;
  readonly usage: UsageRecorder;
  /** Per-token daily usage: reports and pruning. */
  readonly usageReport: UsageReport;
  /** Webhooks per app and their outbox (TokenService writes events into it). */
  readonly webhooks: WebhookService;
  /** Runs: kept for status, resume and replay; idempotency keys (src/runs/). */
  readonly runs: RunService;
  /** Web console sessions and sign-in codes. */
  readonly console: ConsoleSessionService;
  /** Writes pending last-use times (and, PostgreSQL, runs) and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the configured store (creating and migrating it as needed), seeds app `default` with
 * pipeline `chat` on a database with no app, and wires the services.
 */
export async function openServices(config: Config, options: { clock?: Clock; actor: Actor; pageCacheKiB?: number }): Promise<Services> {
  const clock = options.clock ?? systemClock;
  const store = await openStore(config, { clock: () => clock.now(), pageCacheKiB: options.pageCacheKiB });
  try {
    const audit = new AuditLog(store, clock);
    const apps = new AppService(store, clock, audit);
    const pipelines = new PipelineService(store, clock, audit, apps);
    const webhooks = new WebhookService(store, clock, apps, audit, webhookSettings(config));
    const tokens = new TokenService(store, clock, audit, apps, { maxTtlMs: config.maxTokenTtlMs, defaultGraceMs: config.defaultGraceMs }, webhooks);
    const usage = new UsageRecorder(store, clock);
    const usageReport = new UsageReport(store, clock, tokens);
    const runs = new RunService(store, clock, { retentionMs: config.runRetentionMs, memoryBytes: config.runMemoryBytes });
    const consoleSessions = new ConsoleSessionService(store, clock, audit, tokens, { maxTtlMs: config.maxTokenTtlMs });
    await apps.seedDefault(options.actor);
    let closing: Promise<void> | undefined;
    return {
      store,
      clock,
      config,
      apps,
      pipelines,
      tokens,
      audit,
      usage,
      usageReport,
      webhooks,
      runs,
      console: consoleSessions,
      close: () =>
        (closing ??= (async () => {
          usage.stop();
          try {
            await usage.flush();
          } finally {
            try {
              await runs.close();
            } finally {
              await store.close();
            }
          }
        })()),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

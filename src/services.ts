import { AppService, PipelineService } from './apps/apps';
import { AuditLog, type Actor } from './audit/audit';
import { systemClock, type Clock } from './clock';
import type { Config } from './config';
import { ConsoleSessionService } from './console/sessions';
import { openStore } from './db/open-store';
import type { Store } from './db/store';
import { TokenService } from './tokens/service';
import { UsageRecorder } from './tokens/usage';

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
  /** Web console sessions and sign-in codes. */
  readonly console: ConsoleSessionService;
  /** Writes pending last-use times and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the configured store (creating and migrating it as needed), seeds app `default` with
 * pipeline `chat` on a database with no app, and wires the services.
 */
export async function openServices(config: Config, options: { clock?: Clock; actor: Actor }): Promise<Services> {
  const clock = options.clock ?? systemClock;
  const store = await openStore(config, { clock: () => clock.now() });
  try {
    const audit = new AuditLog(store, clock);
    const apps = new AppService(store, clock, audit);
    const pipelines = new PipelineService(store, clock, audit, apps);
    const tokens = new TokenService(store, clock, audit, apps, { maxTtlMs: config.maxTokenTtlMs, defaultGraceMs: config.defaultGraceMs });
    const usage = new UsageRecorder(store, clock);
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
      console: consoleSessions,
      close: () =>
        (closing ??= (async () => {
          usage.stop();
          try {
            await usage.flush();
          } finally {
            await store.close();
          }
        })()),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

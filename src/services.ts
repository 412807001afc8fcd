import { AppService, PipelineService } from './apps/apps';
import { systemClock, type Clock } from './clock';
import type { Config } from './config';
import { openDatabase, type Db } from './db/open';
import { AuditLog, type Actor } from './tokens/audit';
import { TokenService } from './tokens/service';
import { UsageRecorder } from './tokens/usage';

/**
 * Everything the HTTP API, the CLI and the TUI call: one implementation of each rule, on one
 * database file.
 */
export interface Services {
  readonly db: Db;
  readonly clock: Clock;
  readonly config: Config;
  readonly apps: AppService;
  readonly pipelines: PipelineService;
  readonly tokens: TokenService;
  readonly audit: AuditLog;
  readonly usage: UsageRecorder;
  close(): void;
}

/**
 * Opens the database in `config.dataDir` (creating and migrating it as needed), seeds app
 * `default` with pipeline `chat` on a database with no app, and wires the services.
 */
export function openServices(config: Config, options: { clock?: Clock; actor: Actor }): Services {
  const clock = options.clock ?? systemClock;
  const db = openDatabase(config.dataDir);
  try {
    const audit = new AuditLog(db, clock);
    const apps = new AppService(db, clock, audit);
    const pipelines = new PipelineService(db, clock, audit, apps);
    const tokens = new TokenService(db, clock, audit, apps, { maxTtlMs: config.maxTokenTtlMs, defaultGraceMs: config.defaultGraceMs });
    const usage = new UsageRecorder(db, clock);
    apps.seedDefault(options.actor);
    return {
      db,
      clock,
      config,
      apps,
      pipelines,
      tokens,
      audit,
      usage,
      close: () => {
        usage.stop();
        try {
          usage.flush();
        } finally {
          db.close();
        }
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

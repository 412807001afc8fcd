import { and, asc, count, eq } from 'drizzle-orm';
import { formatTime, type Clock } from '../clock';
import type { Db } from '../db/open';
import { apps, pipelines } from '../db/schema';
import { AppError } from '../errors';
import type { Actor, AuditLog } from '../tokens/audit';
import { requireKind, validatePipelineConfig, type PipelineConfig, type PipelineKind } from './pipeline-config';
import { requireName, requireSlug } from './validation';

export interface AppView {
  slug: string;
  name: string;
  created_at: string;
}

export interface AppRecord {
  id: number;
  slug: string;
  name: string;
  createdAt: number;
}

export interface PipelineView {
  app: string;
  slug: string;
  kind: PipelineKind;
  config: PipelineConfig;
  created_at: string;
  updated_at: string;
}

export const DEFAULT_APP = 'default';
export const DEFAULT_PIPELINE = 'chat';

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Apps: the unit that owns pipelines and tokens. */
export class AppService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  list(): AppView[] {
    return this.db.orm.select().from(apps).orderBy(asc(apps.slug)).all().map(toAppView);
  }

  /** The app with this slug; `not_found` (naming the slug and how to list apps) otherwise. */
  require(slug: string): AppRecord {
    const row = this.db.orm.select().from(apps).where(eq(apps.slug, slug)).get();
    if (!row) throw new AppError('not_found', `app "${slug}" does not exist; list apps with \`mechamental apps list\``);
    return row;
  }

  get(slug: string): AppView {
    return toAppView(this.require(slug));
  }

  create(input: { slug: string; name?: string | undefined }, actor: Actor): AppView {
    const slug = requireSlug(input.slug);
    const name = requireName(input.name ?? slug);
    try {
      return this.db.orm.transaction(
        (tx) => {
          const row = tx.insert(apps).values({ slug, name, createdAt: this.clock.now() }).returning().get();
          this.audit.record(tx, { actor, action: 'app.created', app: slug, detail: { name } });
          return toAppView(row);
        },
        { behavior: 'immediate' },
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `app "${slug}" already exists`);
      throw error;
    }
  }

  /**
   * On a database with no app at all, creates app `default` with pipeline `chat` (kind `echo`), so
   * the documented curl examples work as soon as a token exists. Returns whether it did.
   */
  seedDefault(actor: Actor): boolean {
    // Cheap read first: every open calls this, and only a new file needs the write lock.
    if ((this.db.orm.select({ n: count() }).from(apps).get()?.n ?? 0) > 0) return false;
    return this.db.orm.transaction(
      (tx) => {
        const existing = tx.select({ n: count() }).from(apps).get();
        if ((existing?.n ?? 0) > 0) return false;
        const now = this.clock.now();
        const app = tx.insert(apps).values({ slug: DEFAULT_APP, name: 'Default', createdAt: now }).returning().get();
        tx.insert(pipelines)
          .values({ appId: app.id, slug: DEFAULT_PIPELINE, kind: 'echo', config: '{}', createdAt: now, updatedAt: now })
          .run();
        this.audit.record(tx, { actor, action: 'app.created', app: DEFAULT_APP, detail: { name: 'Default', seeded: true } });
        this.audit.record(tx, { actor, action: 'pipeline.created', app: DEFAULT_APP, detail: { pipeline: DEFAULT_PIPELINE, kind: 'echo', seeded: true } });
        return true;
      },
      { behavior: 'immediate' },
    );
  }
}

function toAppView(row: AppRecord): AppView {
  return { slug: row.slug, name: row.name, created_at: formatTime(row.createdAt) };
}

/** Pipelines as data: each belongs to one app; its config is validated for its kind on every write. */
export class PipelineService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly appService: AppService,
  ) {}

  list(appSlug: string): PipelineView[] {
    const app = this.appService.require(appSlug);
    return this.db.orm
      .select()
      .from(pipelines)
      .where(eq(pipelines.appId, app.id))
      .orderBy(asc(pipelines.slug))
      .all()
      .map((row) => toPipelineView(app.slug, row));
  }

  get(appSlug: string, slug: string): PipelineView {
    const app = this.appService.require(appSlug);
    const row = this.db.orm
      .select()
      .from(pipelines)
      .where(and(eq(pipelines.appId, app.id), eq(pipelines.slug, slug)))
      .get();
    if (!row) throw new AppError('not_found', `pipeline "${slug}" does not exist in app "${appSlug}"; list them with \`mechamental pipelines list --app ${appSlug}\``);
    return toPipelineView(app.slug, row);
  }

  create(appSlug: string, input: { slug: string; kind: string; config?: unknown }, actor: Actor): PipelineView {
    const slug = requireSlug(input.slug);
    const kind = requireKind(input.kind);
    const config = validatePipelineConfig(kind, input.config);
    const app = this.appService.require(appSlug);
    try {
      return this.db.orm.transaction(
        (tx) => {
          const now = this.clock.now();
          const row = tx
            .insert(pipelines)
            .values({ appId: app.id, slug, kind, config: JSON.stringify(config), createdAt: now, updatedAt: now })
            .returning()
            .get();
          this.audit.record(tx, { actor, action: 'pipeline.created', app: app.slug, detail: { pipeline: slug, kind } });
          return toPipelineView(app.slug, row);
        },
        { behavior: 'immediate' },
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('conflict', `pipeline "${slug}" already exists in app "${app.slug}"`);
      throw error;
    }
  }

  /** Replaces kind and config (PUT semantics); the slug stays. */
  update(appSlug: string, slug: string, input: { kind: string; config?: unknown }, actor: Actor): PipelineView {
    const kind = requireKind(input.kind);
    const config = validatePipelineConfig(kind, input.config);
    const existing = this.get(appSlug, slug);
    const app = this.appService.require(appSlug);
    return this.db.orm.transaction(
      (tx) => {
        const row = tx
          .update(pipelines)
          .set({ kind, config: JSON.stringify(config), updatedAt: this.clock.now() })
          .where(and(eq(pipelines.appId, app.id), eq(pipelines.slug, existing.slug)))
          .returning()
          .get();
        if (!row) throw new AppError('not_found', `pipeline "${slug}" does not exist in app "${appSlug}"`);
        this.audit.record(tx, { actor, action: 'pipeline.updated', app: app.slug, detail: { pipeline: slug, kind } });
        return toPipelineView(app.slug, row);
      },
      { behavior: 'immediate' },
    );
  }

  remove(appSlug: string, slug: string, actor: Actor): void {
    const app = this.appService.require(appSlug);
    this.db.orm.transaction(
      (tx) => {
        const removed = tx
          .delete(pipelines)
          .where(and(eq(pipelines.appId, app.id), eq(pipelines.slug, slug)))
          .returning({ slug: pipelines.slug })
          .all();
        if (removed.length === 0) {
          throw new AppError('not_found', `pipeline "${slug}" does not exist in app "${appSlug}"; list them with \`mechamental pipelines list --app ${appSlug}\``);
        }
        this.audit.record(tx, { actor, action: 'pipeline.deleted', app: app.slug, detail: { pipeline: slug } });
      },
      { behavior: 'immediate' },
    );
  }
}

function toPipelineView(appSlug: string, row: typeof pipelines.$inferSelect): PipelineView {
  return {
    app: appSlug,
    slug: row.slug,
    kind: row.kind,
    config: JSON.parse(row.config) as PipelineConfig,
    created_at: formatTime(row.createdAt),
    updated_at: formatTime(row.updatedAt),
  };
}

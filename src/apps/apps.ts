import type { Actor, AuditLog } from '../audit/audit';
import { formatTime, type Clock } from '../clock';
import { UniqueViolation, type AppRow, type PipelineRow, type Store } from '../db/store';
import { AppError } from '../errors';
import { requireKind, validatePipelineConfig, type PipelineConfig, type PipelineKind } from './pipeline-config';
import { requireName, requireSlug } from './validation';

export interface AppView {
  slug: string;
  name: string;
  created_at: string;
}

export type AppRecord = AppRow;

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

/** Apps: the unit that owns pipelines and tokens. */
export class AppService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async list(): Promise<AppView[]> {
    return (await this.store.apps.list()).map(toAppView);
  }

  /** The app with this slug; `not_found` (naming the slug and how to list apps) otherwise. */
  async require(slug: string): Promise<AppRecord> {
    const row = await this.store.apps.bySlug(slug);
    if (!row) throw new AppError('not_found', `app "${slug}" does not exist; list apps with \`mechamental apps list\``);
    return row;
  }

  async get(slug: string): Promise<AppView> {
    return toAppView(await this.require(slug));
  }

  async create(input: { slug: string; name?: string | undefined }, actor: Actor): Promise<AppView> {
    const slug = requireSlug(input.slug);
    const name = requireName(input.name ?? slug);
    try {
      return await this.store.transaction(async (tx) => {
        const row = await tx.apps.insert({ slug, name, createdAt: this.clock.now() });
        await this.audit.record(tx, { actor, action: 'app.created', app: slug, detail: { name } });
        return toAppView(row);
      });
    } catch (error) {
      if (error instanceof UniqueViolation) throw new AppError('conflict', `app "${slug}" already exists`);
      throw error;
    }
  }

  /**
   * On a database with no app at all, creates app `default` with pipeline `chat` (kind `echo`), so
   * the documented curl examples work as soon as a token exists. Returns whether it did. Safe when
   * several processes or instances start at once: only one seeds.
   */
  async seedDefault(actor: Actor): Promise<boolean> {
    // Cheap read first: every open calls this, and only a new database needs the write.
    if ((await this.store.apps.count()) > 0) return false;
    try {
      return await this.store.transaction(async (tx) => {
        if ((await tx.apps.count()) > 0) return false;
        const now = this.clock.now();
        const app = await tx.apps.insert({ slug: DEFAULT_APP, name: 'Default', createdAt: now });
        await tx.pipelines.insert({ appId: app.id, slug: DEFAULT_PIPELINE, kind: 'echo', config: '{}', createdAt: now, updatedAt: now });
        await this.audit.record(tx, { actor, action: 'app.created', app: DEFAULT_APP, detail: { name: 'Default', seeded: true } });
        await this.audit.record(tx, { actor, action: 'pipeline.created', app: DEFAULT_APP, detail: { pipeline: DEFAULT_PIPELINE, kind: 'echo', seeded: true } });
        return true;
      });
    } catch (error) {
      // Another instance seeded between our count and our insert (PostgreSQL: no table lock).
      if (error instanceof UniqueViolation) return false;
      throw error;
    }
  }
}

function toAppView(row: AppRecord): AppView {
  return { slug: row.slug, name: row.name, created_at: formatTime(row.createdAt) };
}

/** Pipelines as data: each belongs to one app; its config is validated for its kind on every write. */
export class PipelineService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly appService: AppService,
  ) {}

  async list(appSlug: string): Promise<PipelineView[]> {
    const app = await this.appService.require(appSlug);
    return (await this.store.pipelines.listByApp(app.id)).map((row) => toPipelineView(app.slug, row));
  }

  async get(appSlug: string, slug: string): Promise<PipelineView> {
    const app = await this.appService.require(appSlug);
    const row = await this.store.pipelines.find(app.id, slug);
    if (!row) throw notFound(slug, appSlug);
    return toPipelineView(app.slug, row);
  }

  async create(appSlug: string, input: { slug: string; kind: string; config?: unknown }, actor: Actor): Promise<PipelineView> {
    const slug = requireSlug(input.slug);
    const kind = requireKind(input.kind);
    const config = validatePipelineConfig(kind, input.config);
    const app = await this.appService.require(appSlug);
    try {
      return await this.store.transaction(async (tx) => {
        const now = this.clock.now();
        const row = await tx.pipelines.insert({ appId: app.id, slug, kind, config: JSON.stringify(config), createdAt: now, updatedAt: now });
        await this.audit.record(tx, { actor, action: 'pipeline.created', app: app.slug, detail: { pipeline: slug, kind } });
        return toPipelineView(app.slug, row);
      });
    } catch (error) {
      if (error instanceof UniqueViolation) throw new AppError('conflict', `pipeline "${slug}" already exists in app "${app.slug}"`);
      throw error;
    }
  }

  /** Replaces kind and config (PUT semantics); the slug stays. */
  async update(appSlug: string, slug: string, input: { kind: string; config?: unknown }, actor: Actor): Promise<PipelineView> {
    const kind = requireKind(input.kind);
    const config = validatePipelineConfig(kind, input.config);
    const app = await this.appService.require(appSlug);
    return this.store.transaction(async (tx) => {
      const row = await tx.pipelines.update(app.id, slug, { kind, config: JSON.stringify(config), updatedAt: this.clock.now() });
      if (!row) throw notFound(slug, appSlug);
      await this.audit.record(tx, { actor, action: 'pipeline.updated', app: app.slug, detail: { pipeline: slug, kind } });
      return toPipelineView(app.slug, row);
    });
  }

  async remove(appSlug: string, slug: string, actor: Actor): Promise<void> {
    const app = await this.appService.require(appSlug);
    await this.store.transaction(async (tx) => {
      if (!(await tx.pipelines.delete(app.id, slug))) throw notFound(slug, appSlug);
      await this.audit.record(tx, { actor, action: 'pipeline.deleted', app: app.slug, detail: { pipeline: slug } });
    });
  }
}

function notFound(slug: string, appSlug: string): AppError {
  return new AppError('not_found', `pipeline "${slug}" does not exist in app "${appSlug}"; list them with \`mechamental pipelines list --app ${appSlug}\``);
}

function toPipelineView(appSlug: string, row: PipelineRow): PipelineView {
  return {
    app: appSlug,
    slug: row.slug,
    kind: row.kind as PipelineKind,
    config: JSON.parse(row.config) as PipelineConfig,
    created_at: formatTime(row.createdAt),
    updated_at: formatTime(row.updatedAt),
  };
}

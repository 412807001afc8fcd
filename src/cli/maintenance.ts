import path from 'node:path';
import { writeBackup } from '../db/backup';
import { openStore } from '../db/open-store';
import { SqliteStore } from '../db/sqlite/store';
import { AppError } from '../errors';
import type { Command } from './context';
import { PAGING_OPTIONS, pagingHelp, printPaged } from './paged-output';

/** `audit` shows this many events without --limit (the latest few, as a glance). */
const AUDIT_DEFAULT_LIMIT = 50;

export const maintenanceCommands: Command[] = [
  {
    name: 'audit',
    summary: 'show the audit trail, newest first',
    usage: 'audit [--app APP] [--limit N] [--cursor C] [--all] [--json]',
    help: pagingHelp('events', AUDIT_DEFAULT_LIMIT),
    options: { app: { type: 'string' }, ...PAGING_OPTIONS, json: { type: 'boolean' } },
    async run(ctx) {
      const app = ctx.string('app') || undefined;
      const services = await ctx.services();
      await printPaged(ctx, {
        fetch: (cursor, limit) => services.audit.page({ app, cursor, limit }),
        jsonKey: 'events',
        headers: ['TIME', 'ACTOR', 'ACTION', 'APP', 'TOKEN', 'DETAIL'],
        cells: (e) => [e.at, e.actor, e.action, e.app ?? '-', e.token_id ?? '-', e.detail ? JSON.stringify(e.detail) : ''],
        empty: app === undefined ? 'No audit events yet.' : `No audit events for app "${app}".`,
        again: `mechamental audit${app === undefined ? '' : ` --app ${app}`}`,
        defaultLimit: AUDIT_DEFAULT_LIMIT,
      });
    },
  },
  {
    name: 'backup',
    summary: 'write a consistent copy of the database, safe while the server runs',
    usage: 'backup FILE',
    positionals: ['file'],
    options: {},
    async run(ctx) {
      const target = path.resolve(ctx.arg(0));
      const { store } = await ctx.services();
      if (!(store instanceof SqliteStore)) {
        throw new AppError('usage', `backup copies the SQLite file; this mechamental uses PostgreSQL (${store.location}): back it up with pg_dump or your database's own backups`);
      }
      // 0600 from the first byte, never overwriting: see writeBackup.
      await writeBackup(store.db.sqlite, target);
      ctx.out(`Backed up ${store.db.file} to ${target}. Restore by stopping mechamental and copying it back as mechamental.db.`);
    },
  },
  {
    name: 'migrate',
    summary: 'apply pending database migrations (serve and tui also do it at start)',
    usage: 'migrate',
    options: {},
    async run(ctx) {
      const store = await openStore(ctx.config(), { clock: () => ctx.now() });
      await store.close();
      const applied = store.appliedMigrations === 0 ? 'no migration was pending' : `applied ${store.appliedMigrations} migration${store.appliedMigrations === 1 ? '' : 's'}`;
      ctx.out(`Database ${store.location} is up to date (${applied}).`);
    },
  },
];

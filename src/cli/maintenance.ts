import path from 'node:path';
import { writeBackup } from '../db/backup';
import { openDatabase } from '../db/open';
import { integerOption, type Command } from './context';
import { table } from './format';

export const maintenanceCommands: Command[] = [
  {
    name: 'audit',
    summary: 'show the audit trail, newest first',
    usage: 'audit [--app APP] [--limit N] [--json]',
    options: { app: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
    run(ctx) {
      const events = ctx.services().audit.list({ app: ctx.string('app'), limit: integerOption(ctx, 'limit') ?? 50 });
      if (ctx.json) return ctx.printJson({ events });
      ctx.out(
        table(
          ['TIME', 'ACTOR', 'ACTION', 'APP', 'TOKEN', 'DETAIL'],
          events.map((e) => [e.at, e.actor, e.action, e.app ?? '-', e.token_id ?? '-', e.detail ? JSON.stringify(e.detail) : '']),
        ),
      );
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
      const { db } = ctx.services();
      // 0600 from the first byte, never overwriting: see writeBackup.
      await writeBackup(db.sqlite, target);
      ctx.out(`Backed up ${db.file} to ${target}. Restore by stopping mechamental and copying it back as mechamental.db.`);
    },
  },
  {
    name: 'migrate',
    summary: 'apply pending database migrations (serve and tui also do it at start)',
    usage: 'migrate',
    options: {},
    run(ctx) {
      const db = openDatabase(ctx.config().dataDir);
      db.close();
      const applied = db.appliedMigrations === 0 ? 'no migration was pending' : `applied ${db.appliedMigrations} migration${db.appliedMigrations === 1 ? '' : 's'}`;
      ctx.out(`Database ${db.file} is up to date (${applied}).`);
    },
  },
];

import { AppError } from '../errors';
import type { Command } from './context';

export const dbCommands: Command[] = [
  {
    name: 'db copy',
    summary: 'copy this appliance (its SQLite file) into an empty PostgreSQL database',
    usage: 'db copy --to postgres://USER:PASSWORD@HOST:5432/DATABASE [--json]',
    help: [
      'Moves apps, pipelines, tokens and the audit trail to PostgreSQL, so that instances started with',
      'MM_DATABASE_URL serve them. Tokens keep working: only their hashes are stored, and they move.',
      'The SQLite file is read, never changed (run `mechamental migrate` first if it asks); the target',
      'must be empty, and the copy is one transaction: on any failure the target is left as it was.',
      'The row counts of every table are checked in the target before the copy commits.',
      '',
      'Example: mechamental db copy --data-dir /var/lib/mechamental --to postgres://mm:secret@db:5432/mechamental',
    ].join('\n'),
    options: { to: { type: 'string' }, json: { type: 'boolean' } },
    async run(ctx) {
      const to = ctx.required('to');
      if (!/^postgres(ql)?:\/\//.test(to)) throw new AppError('usage', 'db copy: --to must be a PostgreSQL URL such as postgres://user:password@host:5432/mechamental');
      const config = ctx.config();
      if (config.databaseUrl !== undefined) {
        throw new AppError('usage', 'db copy reads the SQLite file of --data-dir (MM_DATA_DIR); unset MM_DATABASE_URL / --database-url for this command');
      }
      // Loaded on use: other commands do not pay for the PostgreSQL driver.
      const { copySqliteToPostgres } = await import('../db/copy');
      const report = await copySqliteToPostgres(config.dataDir, to, {
        clock: () => ctx.now(),
        onTable: (table, rows) => {
          if (!ctx.json) ctx.err(`  ${table}: ${rows} rows`);
        },
      });
      if (ctx.json) return ctx.printJson(report);
      ctx.out(`Copied ${report.tables.reduce((n, t) => n + t.rows, 0)} rows into ${report.target}; the counts match. Start instances with MM_DATABASE_URL set to it.`);
    },
  },
];

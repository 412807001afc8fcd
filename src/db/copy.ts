import type Database from 'better-sqlite3';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { AppError } from '../errors';
import { PostgresStore } from './postgres/store';
import { openReadOnly } from './sqlite/open';
import * as sqliteSchema from './sqlite/schema';

/** Rows read and written per statement. */
const BATCH = 1_000;

export interface CopyReport {
  /** Rows per table, as counted in the source and found again in the target. */
  tables: Array<{ table: string; rows: number }>;
  target: string;
}

interface TableInfo {
  name: string;
  columns: string[];
  /** Columns filled by a sequence in PostgreSQL (serial), whose sequence must move past the copied ids. */
  serial: string[];
  dependsOn: string[];
}

function tableName(table: SQLiteTable): string {
  return (table as unknown as Record<symbol, string>)[Symbol.for('drizzle:Name')]!;
}

/** Every table of the SQLite schema, parents before children (foreign keys). */
function tablesInOrder(): TableInfo[] {
  const infos: TableInfo[] = [];
  for (const value of Object.values(sqliteSchema)) {
    if (!(value instanceof SQLiteTable)) continue;
    const config = getTableConfig(value);
    infos.push({
      name: config.name,
      columns: config.columns.map((c) => c.name),
      serial: config.columns.filter((c) => c.primary && c.getSQLType() === 'integer' && (c as { autoIncrement?: boolean }).autoIncrement).map((c) => c.name),
      dependsOn: config.foreignKeys.map((fk) => tableName(fk.reference().foreignTable as SQLiteTable)).filter((name) => name !== config.name),
    });
  }
  const ordered: TableInfo[] = [];
  const placed = new Set<string>();
  while (ordered.length < infos.length) {
    const next = infos.find((t) => !placed.has(t.name) && t.dependsOn.every((d) => placed.has(d)));
    if (!next) throw new Error('the schema has a foreign-key cycle; db copy cannot order its tables');
    ordered.push(next);
    placed.add(next.name);
  }
  return ordered;
}

/**
 * Copies an appliance's data from its SQLite file to an empty PostgreSQL database, so that instances
 * on PostgreSQL serve the same apps, pipelines and tokens (the hashes move; the values were never
 * stored, so every token keeps working), with the audit trail.
 *
 * Invariants: the source is opened read-only and never changed (a source with pending migrations is
 * refused: run `mechamental migrate` first); the target must hold no data (a copy never merges); the
 * whole copy is one PostgreSQL transaction, so a failure leaves the target as it was; ids are kept and
 * the target's sequences moved past them; the row counts of every table are checked in the target
 * before the transaction commits.
 */
export async function copySqliteToPostgres(dataDir: string, url: string, options: { clock: () => number; onTable?: (table: string, rows: number) => void }): Promise<CopyReport> {
  const source = openReadOnly(dataDir);
  let target: PostgresStore | undefined;
  try {
    target = await PostgresStore.open(url, { clock: options.clock, poolSize: 2 });
    const tables = tablesInOrder();
    const report: CopyReport = { tables: [], target: target.location };
    await target.sql.begin(async (tx) => {
      for (const table of tables) {
        const [{ n }] = (await tx.unsafe(`SELECT count(*)::int AS n FROM "${table.name}"`)) as unknown as [{ n: number }];
        if (n > 0) {
          throw new AppError('conflict', `${target!.location} already holds data (table ${table.name} has ${n} rows); db copy only fills an empty database, so nothing was copied`);
        }
      }
      for (const table of tables) {
        const rows = copyTable(source, table, async (batch) => {
          // The driver's typing of its insert helper wants rows typed per column; these are plain objects.
          await tx`INSERT INTO ${tx(table.name)} ${tx(batch as never, table.columns)}`;
        });
        const copied = await rows;
        for (const column of table.serial) {
          await tx.unsafe(`SELECT setval(pg_get_serial_sequence('"${table.name}"', '${column}'), coalesce((SELECT max("${column}") FROM "${table.name}"), 1), (SELECT count(*) > 0 FROM "${table.name}"))`);
        }
        const [{ n }] = (await tx.unsafe(`SELECT count(*)::int AS n FROM "${table.name}"`)) as unknown as [{ n: number }];
        if (n !== copied) throw new AppError('internal', `table ${table.name}: ${copied} rows were read from the source but ${n} are in the target; nothing was copied`);
        report.tables.push({ table: table.name, rows: copied });
        options.onTable?.(table.name, copied);
      }
    });
    return report;
  } finally {
    source.close();
    await target?.close();
  }
}

/** Reads `table` in batches (by rowid, so memory stays constant) and hands each batch to `write`. */
async function copyTable(source: Database.Database, table: TableInfo, write: (rows: Array<Record<string, unknown>>) => Promise<void>): Promise<number> {
  const select = source.prepare(`SELECT rowid AS __rowid, ${table.columns.map((c) => `"${c}"`).join(', ')} FROM "${table.name}" WHERE rowid > ? ORDER BY rowid LIMIT ${BATCH}`);
  let after = -Infinity;
  let total = 0;
  for (;;) {
    const batch = select.all(after === -Infinity ? -9_007_199_254_740_991 : after) as Array<Record<string, unknown> & { __rowid: number }>;
    if (batch.length === 0) return total;
    after = batch.at(-1)!.__rowid;
    await write(batch.map(({ __rowid: _rowid, ...row }) => row));
    total += batch.length;
  }
}

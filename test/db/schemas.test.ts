import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as pg from '../../src/db/postgres/schema';
import * as sqlite from '../../src/db/sqlite/schema';

/** A dialect-neutral description of one table: what must agree between the two schemas. */
interface Shape {
  columns: Record<string, { type: 'integer' | 'text' | 'real'; notNull: boolean; primary: boolean }>;
  indexes: Record<string, { columns: string[]; unique: boolean }>;
  foreignKeys: string[];
  checks: string[];
}

/** Both dialects' column types, mapped to what a value of them is: SQLite's storage classes. */
function neutralType(sqlType: string): 'integer' | 'text' | 'real' {
  const t = sqlType.toLowerCase();
  if (/^(integer|int|bigint|serial|bigserial|smallint)/.test(t)) return 'integer';
  if (/^(text|varchar|char)/.test(t)) return 'text';
  if (/^(real|double|numeric|float)/.test(t)) return 'real';
  throw new Error(`no neutral type for ${sqlType}`);
}

function shapeOf(config: ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>): Shape {
  const columns: Shape['columns'] = {};
  for (const column of config.columns) columns[column.name] = { type: neutralType(column.getSQLType()), notNull: column.notNull, primary: column.primary };
  const indexes: Shape['indexes'] = {};
  for (const index of config.indexes) {
    const cols = index.config.columns.map((c) => (c as { name: string }).name);
    indexes[index.config.name!] = { columns: cols, unique: index.config.unique === true };
  }
  // Single-column UNIQUE constraints (`.unique()`) appear as constraints in one dialect's config and
  // as a column flag in the other's; both are a unique index on that column.
  for (const column of config.columns) {
    if ((column as { isUnique?: boolean }).isUnique) indexes[`${config.name}_${column.name}_unique`] = { columns: [column.name], unique: true };
  }
  const foreignKeys = config.foreignKeys.map((fk) => {
    const ref = fk.reference();
    return `${ref.columns.map((c) => c.name).join(',')} -> ${(ref.foreignTable as unknown as { [k: symbol]: string })[Symbol.for('drizzle:Name')]}(${ref.foreignColumns.map((c) => c.name).join(',')}) on delete ${fk.onDelete ?? 'no action'}`;
  });
  const checks = config.checks.map((c) => c.name);
  return { columns, indexes, foreignKeys: foreignKeys.sort(), checks: checks.sort() };
}

function tables<T>(module: Record<string, unknown>, kind: abstract new (...args: never[]) => T): Map<string, T> {
  const found = new Map<string, T>();
  for (const value of Object.values(module)) {
    if (value instanceof kind) found.set((value as unknown as Record<symbol, string>)[Symbol.for('drizzle:Name')]!, value);
  }
  return found;
}

describe('the SQLite and PostgreSQL schemas agree', () => {
  const sqliteTables = tables(sqlite, SQLiteTable);
  const pgTables = tables(pg, PgTable);
  const postgresOnly = new Set<string>(pg.POSTGRES_ONLY_TABLES as readonly string[]);

  test('the same tables (PostgreSQL adds only those it declares as its own)', () => {
    assert.deepEqual([...sqliteTables.keys()].sort(), [...pgTables.keys()].filter((name) => !postgresOnly.has(name)).sort());
    for (const name of postgresOnly) assert.ok(pgTables.has(name), `${name} is declared PostgreSQL-only but does not exist`);
  });

  for (const name of [...sqliteTables.keys()].sort()) {
    test(`table ${name}: the same columns, types, nullability, keys, indexes, foreign keys and checks`, () => {
      const a = shapeOf(sqliteTableConfig(sqliteTables.get(name)!));
      // Columns SQLite's indexes add after the shared ones, as its schema declares them.
      for (const [index, extra] of Object.entries(sqlite.SQLITE_ONLY_INDEX_COLUMNS)) {
        const columns = a.indexes[index]?.columns;
        if (columns && extra.every((column, i) => columns[columns.length - extra.length + i] === column)) columns.splice(columns.length - extra.length);
      }
      const b = shapeOf(pgTableConfig(pgTables.get(name)! as PgTable));
      assert.deepEqual(b, a);
    });
  }
});

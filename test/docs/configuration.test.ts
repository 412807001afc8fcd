import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config';

// docs/configuration.md's table is the one list of settings: checked here against the code, so
// that a new variable cannot ship undocumented and a documented default cannot drift.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Every `MM_…` variable the program reads: those of src/config.ts and the few read elsewhere (internal `MM_…__` ones excluded). */
function variablesInCode(): { all: Set<string>; config: Set<string> } {
  const all = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.tsx?$/.test(entry.name)) for (const [name] of read(file).matchAll(/\bMM_[A-Z0-9_]*[A-Z0-9]\b/g)) all.add(name);
    }
  };
  walk('src');
  const config = new Set([...read('src/config.ts').matchAll(/\benv\.(MM_[A-Z0-9_]+)/g)].map((m) => m[1]!));
  return { all, config };
}

interface Row {
  variable: string;
  flag: string | undefined;
  /** The default when it is one value in backticks; undefined when derived or none. */
  default: string | undefined;
}

function documentedRows(): Row[] {
  const text = read('docs/configuration.md');
  const table = text.slice(text.indexOf('## Settings'), text.indexOf('\n## ', text.indexOf('## Settings') + 1));
  const rows: Row[] = [];
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1]!.includes('MM_')) continue;
    const variable = /`(MM_[A-Z0-9_]+)`/.exec(cells[1]!)![1]!;
    const flag = /`(--[a-z-]+)/.exec(cells[1]!)?.[1];
    const single = /^`([^`]+)`$/.exec(cells[2]!);
    rows.push({ variable, flag, default: single?.[1] });
  }
  return rows;
}

describe('docs/configuration.md', () => {
  test('documents every variable the code reads, and no other', () => {
    const { all } = variablesInCode();
    const documented = new Set(documentedRows().map((row) => row.variable));
    assert.deepEqual([...all].filter((name) => !documented.has(name)).sort(), [], 'read by src/ but not in the table');
    assert.deepEqual([...documented].filter((name) => !all.has(name)).sort(), [], 'in the table but read nowhere');
  });

  test('each default it gives is the one src/config.ts applies', () => {
    const { config } = variablesInCode();
    const base = loadConfig({});
    let checked = 0;
    for (const row of documentedRows()) {
      if (row.default === undefined || !config.has(row.variable)) continue;
      assert.deepEqual(loadConfig({ [row.variable]: row.default }), base, `${row.variable}: the documented default ${row.default} is not what the code applies`);
      checked++;
    }
    assert.ok(checked >= 20, `only ${checked} defaults checked`);
    // And the ones written as "(none)": unset means off/empty.
    assert.equal(base.databaseUrl, undefined);
    assert.equal(base.tlsCertFile, null);
    assert.deepEqual(base.trustedProxies, []);
  });

  test('the flags it names exist', () => {
    const serve = read('src/cli/serve.ts') + read('src/cli/index.ts');
    for (const row of documentedRows()) if (row.flag !== undefined) assert.ok(serve.includes(row.flag), `${row.flag} (${row.variable})`);
  });
});

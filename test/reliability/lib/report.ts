// How each reliability run reports: its figures as its last lines, and the promises it checked.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { fmt } from '../../bench/lib/stats';

export interface Report {
  name: string;
  figures: Array<[string, string | number]>;
  /** Broken promises; empty when all held. */
  failures: string[];
}

export function newReport(name: string): Report {
  return { name, figures: [], failures: [] };
}

export function figure(report: Report, label: string, value: string | number): void {
  report.figures.push([label, typeof value === 'number' ? fmt(value) : value]);
}

export function promise(report: Report, held: boolean, broken: string): void {
  if (!held) report.failures.push(broken);
}

export function printReport(report: Report): void {
  console.log(`\n== ${report.name}: ${report.failures.length === 0 ? 'PASS' : 'FAIL'}`);
  for (const failure of report.failures) console.log(`  broken: ${failure}`);
  const width = Math.max(...report.figures.map(([k]) => k.length));
  for (const [k, v] of report.figures) console.log(`  ${k.padEnd(width)}  ${v}`);
}

/** Runs one reliability module as a script: prints its report and exits 0 (held) or 1 (broken). */
export function runAsScript(run: () => Promise<Report>, killAll: () => void): void {
  run().then(
    (report) => {
      printReport(report);
      killAll();
      process.exit(report.failures.length === 0 ? 0 : 1);
    },
    (error: unknown) => {
      console.log(`\n== run broke: ${(error as Error).stack ?? String(error)}`);
      killAll();
      process.exit(1);
    },
  );
}

export interface TokenState {
  id: string;
  revoked_at: number | null;
  expires_at: number;
}

/** Every token row, read from the database file directly (read-only), by id. */
export function readTokens(dataDir: string): Map<string, TokenState> {
  const db = new Database(path.join(dataDir, 'mechamental.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT id, revoked_at, expires_at FROM tokens').all() as TokenState[];
    return new Map(rows.map((r) => [r.id, r]));
  } finally {
    db.close();
  }
}

/** Lines of a JSON log file at level ≥ 50 (pino: error, fatal), and those mentioning SQLITE_BUSY. */
export function scanLog(file: string): { errors: string[]; busy: number } {
  if (!fs.existsSync(file)) return { errors: [], busy: 0 };
  const errors: string[] = [];
  let busy = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (/SQLITE_BUSY|database is locked/i.test(line)) busy++;
    // pino writes the level as a number, or as its label when the server formats it so (the built executable).
    const level = /"level":(?:(\d+)|"([a-z]+)")/.exec(line);
    const severe = level ? (level[1] !== undefined ? Number(level[1]) >= 50 : level[2] === 'error' || level[2] === 'fatal') : /error/i.test(line);
    if (severe) errors.push(line.slice(0, 400));
  }
  return { errors, busy };
}

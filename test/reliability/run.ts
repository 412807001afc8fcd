// `npm run test:reliability`: crash, concurrency, fuzz, soak and hostile, one after another (not
// part of `npm test`). Each prints its figures as its last lines; the exit code is non-zero if any
// promise was broken. RELIABILITY_ONLY=crash,fuzz picks some; see each file for its knobs
// (CRASH_ROUNDS, CONCURRENCY_OPS, FUZZ_REQUESTS, FUZZ_SEED, SOAK_SECONDS, HOSTILE_ROUNDS, …);
// RELIABILITY_BIN=dist/mechamental runs the servers from the built executable instead of the
// development entry point (hostile always runs the built executable, building it when stale).
import { killAll } from '../bench/lib/proc';
import { concurrency } from './concurrency';
import { crash } from './crash';
import { fuzz } from './fuzz';
import { hostile } from './hostile';
import { printReport, type Report } from './lib/report';
import { soak } from './soak';

const all: Array<[string, () => Promise<Report>]> = [
  ['crash', crash],
  ['concurrency', concurrency],
  ['fuzz', fuzz],
  ['soak', soak],
  ['hostile', hostile],
];

async function main(): Promise<number> {
  const only = process.env.RELIABILITY_ONLY?.split(',');
  const reports: Report[] = [];
  const started = Date.now();
  for (const [name, run] of all) {
    if (only && !only.includes(name)) continue;
    console.log(`\n--- ${name} (started ${new Date().toISOString()})`);
    try {
      const report = await run();
      printReport(report);
      reports.push(report);
    } catch (error) {
      const report: Report = { name, figures: [], failures: [`the run broke: ${(error as Error).stack ?? String(error)}`] };
      printReport(report);
      reports.push(report);
    }
  }
  console.log(`\nreliability: ${reports.filter((r) => r.failures.length === 0).length}/${reports.length} passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const report of reports) console.log(`  ${report.failures.length === 0 ? 'PASS' : 'FAIL'}  ${report.name}`);
  return reports.every((r) => r.failures.length === 0) ? 0 : 1;
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (error: unknown) => {
    console.log(`reliability run broke: ${(error as Error).stack ?? String(error)}`);
    killAll();
    process.exit(1);
  },
);

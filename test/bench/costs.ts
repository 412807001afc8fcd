// The per-request bookkeeping of the trigger, measured in-process (section `costs` of `npm run bench`):
// what each of the features below adds to one request, in nanoseconds, against the same request
// without it. Throughput rounds on the shared development machine disagree by more than the few per
// cent these goals allow (docs/benchmarks.md), so each cost is judged here as a share of ours' CPU per
// request, measured by the throughput section of the same run. The code paths are the trigger's own
// (the services it calls, on a real SQLite store in a temporary directory), driven in a loop.
//
//   re-check before a run (issue 9):   currentTurn() at authentication and the compare at the body
//   token controls (issue 13):         a token with a scope and a 4-entry allow-list, against one without
//   usage counting (issue 14):         the accepted count per answer
//   keeping runs (issue 15):           a run created in and kept by the registry (status, resume,
//                                      replay; the budget's evictions at steady state), against a run
//                                      kept nowhere — the ours-norun comparison
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../src/config';
import { currentTurn } from '../../src/http/trigger/turn';
import { Run } from '../../src/runs/run';
import { newRunId } from '../../src/runs/run-id';
import { openServices } from '../../src/services';
import { ControlsCache } from '../../src/tokens/controls';
import { ACCEPTED } from '../../src/tokens/usage';
import { makeTempDir } from './lib/servers';
import { median } from './lib/stats';

export interface Cost {
  name: string;
  issue: number;
  /** What the feature adds per request (ns), median of the rounds; never below 0. */
  ns: number;
  /** The goal: at most this share of a request's CPU. */
  maxShare: number;
}

const TOKENS = Array.from({ length: 100 }, (_, i) => `tok_${String(i).padStart(20, 'b')}`);
const ROUNDS = 7;

/** ns per iteration of `body(i)` over `n` iterations (after a warm-up of the same length). */
function perOp(n: number, body: (i: number) => void): number {
  for (let i = 0; i < n; i++) body(i);
  const started = performance.now();
  for (let i = 0; i < n; i++) body(i);
  return ((performance.now() - started) * 1e6) / n;
}

/** What `withIt` costs over `without`, per iteration: rounds alternate, the median of the differences. */
function difference(n: number, withIt: (i: number) => void, without: (i: number) => void): number {
  const deltas: number[] = [];
  for (let round = 0; round < ROUNDS; round++) deltas.push(perOp(n, withIt) - perOp(n, without));
  return Math.max(0, median(deltas));
}

/** The same as `difference`, each iteration in an event-loop turn of its own. */
async function differenceAsync(n: number, withIt: (i: number) => void, without: (i: number) => void): Promise<number> {
  const turns = async (body: (i: number) => void) => {
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      body(i);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return ((performance.now() - started) * 1e6) / n;
  };
  await turns(withIt);
  await turns(without);
  const deltas: number[] = [];
  for (let round = 0; round < ROUNDS; round++) deltas.push((await turns(withIt)) - (await turns(without)));
  return Math.max(0, median(deltas));
}

export async function measureCosts(): Promise<Cost[]> {
  const tmp = makeTempDir('mm-bench-costs-');
  const services = await openServices(loadConfig({ MM_DATA_DIR: path.join(tmp.dir, 'data') }), { actor: 'cli' });
  try {
    const sink: unknown[] = [];
    const costs: Cost[] = [];

    // The re-check: the turn is noted at authentication (which schedules one setImmediate per busy
    // event-loop turn) and compared when the body is complete. Measured at its worst, one request per
    // turn: each iteration is a turn of its own, so every one pays the setImmediate.
    let verified = -1;
    costs.push({
      name: 're-check before a run (turn bookkeeping, one request per turn)',
      issue: 9,
      ns: await differenceAsync(
        100_000,
        (i) => {
          verified = currentTurn();
          if (verified === i) sink.length = 0;
        },
        (i) => {
          if (verified === i) sink.length = 0;
        },
      ),
      maxShare: 0.05,
    });

    // Token controls: compiled once per token and cached; per request a lookup, the address and the scope.
    const controls = new ControlsCache();
    const scope = JSON.stringify(['chat']);
    const ips = JSON.stringify(['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8', '127.0.0.1']);
    costs.push({
      name: 'token controls (a scope and a 4-entry allow-list)',
      issue: 13,
      ns: difference(
        2_000_000,
        (i) => {
          const c = controls.forToken(TOKENS[i % 100]!, scope, ips);
          if (c === null || !c.allowsAddress('127.0.0.1') || !c.allowsPipeline('chat')) sink.push(i);
        },
        (i) => {
          const c = controls.forToken(TOKENS[i % 100]!, null, null);
          if (c !== null) sink.push(i);
        },
      ),
      maxShare: 0.03,
    });

    // Usage: one accepted count per answer (the last use is noted either way, as in ours-nousage).
    const usage = services.usage;
    costs.push({
      name: 'usage counting (accepted per token and day)',
      issue: 14,
      ns: difference(
        2_000_000,
        (i) => {
          usage.touch(TOKENS[i % 100]!, '127.0.0.1');
          usage.count(TOKENS[i % 100]!, ACCEPTED);
        },
        (i) => usage.touch(TOKENS[i % 100]!, '127.0.0.1'),
      ),
      maxShare: 0.03,
    });

    // Runs: the echo run of "hello world" (two deltas, then its output), kept by the registry or by
    // nobody. 300,000 runs per measurement: well past the default memory budget, so the registry's
    // evictions (and the collector's work on the runs it keeps) are in the figure.
    const runs = services.runs;
    const echo = (run: Run) => {
      run.delta('hello ');
      run.delta('world');
      run.complete('hello world');
    };
    costs.push({
      name: 'keeping runs (status, resume, replay)',
      issue: 15,
      ns: difference(
        300_000,
        (i) => echo(runs.create(TOKENS[i % 100]!, 'chat', false)),
        (i) => echo(new Run(newRunId(), TOKENS[i % 100]!, 'chat', Date.now(), false, null)),
      ),
      maxShare: 0.05,
    });
    if (sink.length > 1e9) console.log(sink.length);
    return costs;
  } finally {
    await services.close();
    tmp.cleanup();
  }
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULTS, loadConfig } from '../../src/config';
import { Run, type RunListener } from '../../src/runs/run';
import { RunService, runBytes } from '../../src/runs/service';
import { testServices } from '../helpers/services';

// The run registry's rules (SPEC "Runs"): events numbered from 1, kept at least MM_RUN_RETENTION
// within MM_RUN_MEMORY, the oldest finished runs dropped first, running runs never.
const services = await testServices();
const TOKEN = 'tok_aaaaaaaaaaaaaaaaaaaa';

function service(options: { retentionMs?: number; memoryBytes?: number } = {}): RunService {
  return new RunService(services.store, services.clock, { retentionMs: options.retentionMs ?? 900_000, memoryBytes: options.memoryBytes ?? 64 * 1_048_576 });
}

function echoRun(runs: RunService, words = ['hello ', 'world']): Run {
  const run = runs.create(TOKEN, 'chat', false);
  for (const word of words) run.delta(word);
  run.complete(words.join(''));
  return run;
}

function collect(): RunListener & { events: Array<[number, string, string]>; ended: boolean } {
  const listener = {
    events: [] as Array<[number, string, string]>,
    ended: false,
    event(seq: number, name: string, data: string) {
      listener.events.push([seq, name, data]);
    },
    end() {
      listener.ended = true;
    },
  };
  return listener;
}

describe('a run and its events', () => {
  test('numbered from 1: run.started, the deltas, then exactly one terminal event; a subscriber from any position gets exactly the rest', () => {
    const runs = service();
    const run = runs.create(TOKEN, 'chat', false);
    const live = collect();
    run.subscribe(0, live);
    run.delta('a ');
    const late = collect();
    run.subscribe(1, late);
    run.delta('b');
    run.complete('a b');
    run.delta('ignored after the end');
    run.fail('pipeline_failed', 'ignored after the end');
    const expected: Array<[number, string, string]> = [
      [1, 'run.started', JSON.stringify({ run_id: run.id, pipeline: 'chat' })],
      [2, 'message.delta', '{"text":"a "}'],
      [3, 'message.delta', '{"text":"b"}'],
      [4, 'run.completed', JSON.stringify({ run_id: run.id, output: 'a b' })],
    ];
    assert.deepEqual(live.events, expected);
    assert.ok(live.ended);
    assert.deepEqual(late.events, expected.slice(1));
    for (let after = 0; after <= 5; after++) {
      const replay = collect();
      run.subscribe(after, replay);
      assert.deepEqual(replay.events, expected.slice(after), `after ${after}`);
      assert.ok(replay.ended);
    }
  });

  test('stop ends a running run with run.failed and calls its stopper once; a stopped run stays stopped', () => {
    const runs = service();
    const run = runs.create(TOKEN, 'chat', true);
    const why: string[] = [];
    run.onStop((reason) => why.push(reason));
    run.stop('cancelled', 'asked to');
    run.stop('token_revoked', 'too late');
    run.complete('too late');
    assert.deepEqual(why, ['cancelled']);
    assert.deepEqual(run.view().error, { code: 'cancelled', message: 'asked to' });
    assert.equal(run.view().status, 'failed');
    assert.equal(run.lastSeq, 2);
  });

  test('deltas that add up to the output are kept as offsets into it, and replay the same; others are kept as they are', () => {
    const runs = service();
    const folded = echoRun(runs, ['héllo ', '', 'wörld ', '🙂']);
    assert.equal(folded.textFootprint().strings, 0);
    const other = runs.create(TOKEN, 'chat', false);
    other.delta('a');
    other.delta('b');
    other.complete({ json: 'output' });
    assert.equal(other.textFootprint().strings, 2);
    const texts = (run: Run) => {
      const replay = collect();
      run.subscribe(1, replay);
      return replay.events.filter(([, name]) => name === 'message.delta').map(([, , data]) => (JSON.parse(data) as { text: string }).text);
    };
    assert.deepEqual(texts(folded), ['héllo ', '', 'wörld ', '🙂']);
    assert.deepEqual(texts(other), ['a', 'b']);
  });

  test('a run rebuilt from a stored answer has its first and its terminal event', () => {
    const run = Run.restored('run_0123456789abcdef01234567', TOKEN, 'chat', Date.now(), { output: { any: 'json' } });
    const replay = collect();
    run.subscribe(0, replay);
    assert.deepEqual(replay.events.map(([seq, name]) => [seq, name]), [
      [1, 'run.started'],
      [2, 'run.completed'],
    ]);
  });
});

describe('retention and the memory budget', () => {
  test('a finished run is kept for MM_RUN_RETENTION, then dropped', () => {
    const runs = service({ retentionMs: 60_000 });
    const run = echoRun(runs);
    services.clock.advance(59_999);
    try {
      runs.sweep();
      assert.equal(runs.local(run.id), run);
      services.clock.advance(2);
      runs.sweep();
      assert.equal(runs.local(run.id), undefined);
      assert.equal(runs.size, 0);
      assert.equal(runs.bytes, 0);
    } finally {
      services.clock.advance(-60_001);
    }
  });

  test('beyond MM_RUN_MEMORY the oldest finished runs go first; running runs are never dropped', () => {
    const perRun = runBytes(echoRun(service()));
    const runs = service({ memoryBytes: perRun * 10 });
    const running = runs.create(TOKEN, 'chat', false);
    const finished = Array.from({ length: 25 }, () => echoRun(runs));
    assert.ok(runs.bytes <= perRun * 10);
    assert.deepEqual(
      finished.map((run) => runs.local(run.id) !== undefined),
      finished.map((_, i) => i >= 15),
    );
    assert.equal(runs.local(running.id), running);
    running.complete('at last');
    assert.equal(runs.size, 10);
  });

  test(`10,000 finished small runs are held within the default budget (${DEFAULTS.runMemory}), which bounds the heap they take`, () => {
    setFlagsFromString('--expose_gc');
    const gc = runInNewContext('gc') as () => void;
    const config = loadConfig({});
    const runs = service({ memoryBytes: config.runMemoryBytes });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) echoRun(runs, [`hello ${i % 100} `, 'world']);
    gc();
    const heap = process.memoryUsage().heapUsed - before;
    assert.equal(runs.size, 10_000);
    assert.ok(runs.bytes <= config.runMemoryBytes, `${runs.bytes} counted`);
    // The budget counts more than the heap grows: it is a bound, not an estimate.
    assert.ok(heap < runs.bytes, `heap grew ${heap} bytes, counted ${runs.bytes}`);
    console.log(`# 10,000 small runs: heap +${(heap / 1_048_576).toFixed(1)} MiB, counted ${(runs.bytes / 1_048_576).toFixed(1)} MiB of ${config.runMemoryBytes / 1_048_576} MiB`);
  });
});

describe('settings', () => {
  test('MM_RUN_RETENTION and MM_RUN_MEMORY: defaults, values and refusals naming the variable', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.runRetentionMs, 15 * 60_000);
    assert.equal(defaults.runMemoryBytes, 64 * 1_048_576);
    const set = loadConfig({ MM_RUN_RETENTION: '1h', MM_RUN_MEMORY: '8MiB' });
    assert.equal(set.runRetentionMs, 3_600_000);
    assert.equal(set.runMemoryBytes, 8 * 1_048_576);
    assert.throws(() => loadConfig({ MM_RUN_RETENTION: 'forever' }), /MM_RUN_RETENTION/);
    assert.throws(() => loadConfig({ MM_RUN_RETENTION: '0s' }), /MM_RUN_RETENTION/);
    assert.throws(() => loadConfig({ MM_RUN_MEMORY: 'lots' }), /MM_RUN_MEMORY/);
    assert.throws(() => loadConfig({ MM_RUN_MEMORY: '0' }), /MM_RUN_MEMORY/);
  });
});

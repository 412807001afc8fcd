// The trigger's JSON answer is put together around the output's own JSON (src/http/trigger/runs.ts
// jsonAnswer): it must be, byte for byte, what JSON.stringify gives for the whole answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonAnswer } from '../../src/http/trigger/runs';

test("a run's JSON answer is exactly JSON.stringify's, whatever the output, run id and pipeline", () => {
  const outputs: unknown[] = ['hello world', 'quotes " and \\ and \n and \u2028 and é', '', 0, -1.5e-7, true, null, undefined, [], {}, { a: [1, { b: 'c' }], 'd"e': null }, { toJSON: () => 'as JSON' }, [undefined, () => 1]];
  const ids: Array<[string, string]> = [
    ['run_a1b2c3d4e5f6g7h8', 'chat'],
    ['run_x', 'my-pipeline-2'],
    ['run "quoted"', 'chat'], // not ours, but never broken JSON
    ['run_x', 'pi\\pe'],
  ];
  for (const [runId, pipeline] of ids) {
    for (const output of outputs) {
      const answer = jsonAnswer(runId, pipeline, { output });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, JSON.stringify({ run_id: runId, pipeline, output: output ?? null }), `${runId} ${pipeline} ${String(output)}`);
    }
  }
  // An output with no JSON form at all (a function): the key is left out, as JSON.stringify leaves it.
  assert.equal(jsonAnswer('run_x', 'chat', { output: () => 1 }).body, '{"run_id":"run_x","pipeline":"chat"}');
});

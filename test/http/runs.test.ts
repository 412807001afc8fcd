import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readEvents, StreamReader, triggerSource } from '../helpers/event-source';
import { alive } from '../helpers/process';
import { expireToken } from '../helpers/rows';
import { eventually, request, runScenario, SseClient, startTestServer, type Scenario } from '../helpers/server';

// Runs: status, resume, cancel, background, the EventSource reconnect rule (SPEC "Runs").
// `retry:` is shortened to 50 ms so that EventSource reconnects quickly (sse.test.ts checks the 3000 default).
const t = await startTestServer({ server: { sseRetryMs: 50, pingIntervalMs: 100 } });
const { services } = t;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-runs-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const counter = path.join(scratch, 'counted.txt');
fs.writeFileSync(counter, '');
// Counts its runs in a file, then streams six lines.
await services.pipelines.create('default', { slug: 'counted', kind: 'command', config: { argv: ['sh', '-c', 'echo run >> "$0"; for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.05; done', counter] } }, 'cli');
await services.pipelines.create('default', { slug: 'slow-echo', kind: 'echo', config: { delay_ms: 60 } }, 'cli');
// Prints its own pid and a background child's, then waits: cancel must kill them both.
await services.pipelines.create('default', { slug: 'hang', kind: 'command', config: { argv: ['sh', '-c', 'sleep 30 & echo "$$ $!"; wait'] } }, 'cli');
const marker = path.join(scratch, 'marker.txt');
// Says it started, works a while, then leaves a mark: proof that it ran to its end.
await services.pipelines.create('default', { slug: 'marked', kind: 'command', config: { argv: ['sh', '-c', 'echo started; sleep 0.6; echo done > "$0"; echo finished', marker] } }, 'cli');

const issue = async (name: string, expires = '30d') => services.tokens.create({ app: 'default', name, expires }, 'cli');
const main = await issue('runs');
const other = await issue('someone else');
const auth = (value: string) => ({ Authorization: `Bearer ${value}` });
const json = (value: string) => ({ ...auth(value), 'Content-Type': 'application/json' });
const runs = (n: number) => fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length - n;

function pidsOf(data: string): number[] {
  return (JSON.parse(data) as { text: string }).text.trim().split(' ').map(Number);
}

async function finishedRun(pipeline = 'chat', message = 'one two three four'): Promise<{ runId: string; raw: string }> {
  const client = new SseClient(`${t.url}/v1/trigger/${pipeline}`, main.value, { message });
  await client.done;
  assert.equal(client.status, 200);
  return { runId: String(client.headers['mechamental-run-id']), raw: client.raw };
}

describe('run ids and status', () => {
  test('the JSON answer and the SSE answer carry Mechamental-Run-Id, the run id of their body', async () => {
    const reply = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: json(main.value), body: { message: 'hello' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['mechamental-run-id'], reply.json<{ run_id: string }>().run_id);
    const { runId, raw } = await finishedRun();
    assert.match(runId, /^run_[0-9a-f]{24}$/);
    assert.ok(raw.includes(`"run_id":"${runId}"`));
  });

  test('GET /v1/runs/:id: a completed run, a failed one, and a running one', async () => {
    const { runId } = await finishedRun();
    const done = await request(`${t.url}/v1/runs/${runId}`, { headers: auth(main.value) });
    assert.equal(done.status, 200);
    const view = done.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(view).sort(), ['ended_at', 'output', 'pipeline', 'run_id', 'started_at', 'status']);
    assert.equal(view.status, 'completed');
    assert.equal(view.output, 'one two three four');
    assert.equal(view.pipeline, 'chat');
    assert.match(String(view.started_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(String(view.ended_at), /Z$/);

    const bad = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: json(main.value), body: { message: 42 } });
    const failedId = String(bad.headers['mechamental-run-id']);
    const failed = (await request(`${t.url}/v1/runs/${failedId}`, { headers: auth(main.value) })).json<Record<string, unknown>>();
    assert.equal(failed.status, 'failed');
    assert.equal((failed.error as { code: string }).code, bad.json<{ error: { code: string } }>().error.code);
    assert.equal('output' in failed, false);

    const client = new SseClient(`${t.url}/v1/trigger/hang`, main.value, {});
    await client.waitFor('message.delta');
    const running = (await request(`${t.url}/v1/runs/${String(client.headers['mechamental-run-id'])}`, { headers: auth(main.value) })).json<Record<string, unknown>>();
    assert.equal(running.status, 'running');
    assert.equal(running.ended_at, null);
    assert.equal('output' in running || 'error' in running, false);
    client.disconnect();
  });

  test('only the token that started a run sees it: another token gets 404 run_not_found everywhere, like an unknown run', async () => {
    const { runId } = await finishedRun();
    for (const [method, url] of [
      ['GET', `/v1/runs/${runId}`],
      ['GET', `/v1/runs/${runId}/events`],
      ['POST', `/v1/runs/${runId}/cancel`],
      ['GET', '/v1/runs/run_000000000000000000000000'],
      ['GET', '/v1/runs/not-a-run-id'],
    ] as const) {
      const reply = await request(`${t.url}${url}`, { method, headers: auth(other.value) });
      assert.equal(reply.status, 404, `${method} ${url}: ${reply.body}`);
      assert.equal(reply.json<{ error: { code: string } }>().error.code, 'run_not_found');
    }
    // And the trigger's reconnect with that run's id: 409 (it names no run of this token).
    const reconnect = await request(`${t.url}/v1/trigger/chat`, {
      method: 'POST',
      headers: { ...json(other.value), Accept: 'text/event-stream', 'Last-Event-ID': '1', 'Mechamental-Run-Id': runId },
      body: {},
    });
    assert.equal(reconnect.status, 409);
    assert.equal(reconnect.json<{ error: { code: string } }>().error.code, 'run_not_found');
  });

  test('the runs routes refuse every bad credential (the trigger-token matrix)', async () => {
    const { runId } = await finishedRun();
    const revoked = await issue('revoked');
    await services.tokens.revoke(revoked.token.id, 'cli');
    const expired = await issue('expired');
    await expireToken(services, expired.token.id);
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    const url = `/v1/runs/${runId}`;
    const scenarios: Scenario[] = [
      { name: 'no token', url, status: 401, expect: ['"code":"unauthorized"'] },
      { name: 'wrong scheme', url, headers: { Authorization: `Basic ${main.value}` }, status: 401, notExpect: [main.value] },
      { name: 'malformed', url, headers: auth('mm_tok_nope'), status: 401, expect: ['"code":"invalid_token"'] },
      { name: 'unknown', url, headers: auth(`mm_tok_${'A'.repeat(30)}000000`), status: 401 },
      { name: 'revoked', url, headers: auth(revoked.value), status: 401, expect: ['"code":"token_revoked"'], notExpect: [revoked.value] },
      { name: 'expired', url, headers: auth(expired.value), status: 401, expect: ['"code":"token_expired"'] },
      { name: 'admin token', url, headers: auth(admin.value), status: 403, expect: ['"code":"insufficient_scope"'], notExpect: [admin.value] },
      { name: 'its own token', url, headers: auth(main.value), status: 200, expect: [`"run_id":"${runId}"`], notExpect: [main.value] },
      { name: 'another method', method: 'DELETE', url, headers: auth(main.value), status: 405, expectHeaders: { allow: 'GET, HEAD, OPTIONS' } },
    ];
    for (const scenario of scenarios) await runScenario(t.url, scenario);
  });
});

describe('resume', () => {
  test('GET /v1/runs/:id/events from every position of a finished run replays exactly the missing events; after the end, 204', async () => {
    const { runId, raw } = await finishedRun('chat', 'a b c d e');
    const all = (await readEvents(`${t.url}/v1/runs/${runId}/events`, auth(main.value))).events;
    assert.deepEqual(all.map((e) => e.id), ['1', '2', '3', '4', '5', '6', '7']);
    // The replay is byte for byte what the live stream sent (retry: included).
    assert.equal((await readEvents(`${t.url}/v1/runs/${runId}/events`, auth(main.value))).raw, raw);
    for (let n = 0; n <= 7; n++) {
      for (const headers of [{ ...auth(main.value), 'Last-Event-ID': String(n) }, auth(main.value)]) {
        const url = `${t.url}/v1/runs/${runId}/events${'Last-Event-ID' in headers ? '' : `?after=${n}`}`;
        const reply = await readEvents(url, headers);
        if (n === 7) {
          assert.equal(reply.status, 204, `after ${n}`);
          assert.equal(reply.raw, '');
          assert.equal(reply.headers['mechamental-run-id'], runId);
          continue;
        }
        assert.equal(reply.status, 200);
        assert.match(reply.raw, /^retry: 50\n\n/);
        assert.deepEqual(reply.events, all.slice(n), `after ${n}`);
      }
    }
    // Last-Event-ID wins over ?after= (an EventSource reconnecting to a URL that has ?after=).
    const both = await readEvents(`${t.url}/v1/runs/${runId}/events?after=1`, { ...auth(main.value), 'Last-Event-ID': '5' });
    assert.deepEqual(both.events.map((e) => e.id), ['6', '7']);
  });

  test('a resume in the middle of a running run replays what was missed, then follows it live to its end', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/slow-echo`, main.value, { message: 'w1 w2 w3 w4 w5 w6 w7 w8' }, { 'Mechamental-Run-Mode': 'background' });
    await eventually(() => client.events.length >= 3, 5_000, 'three events');
    const runId = String(client.headers['mechamental-run-id']);
    client.disconnect();
    const resumed = await readEvents(`${t.url}/v1/runs/${runId}/events`, { ...auth(main.value), 'Last-Event-ID': '2' });
    assert.equal(resumed.status, 200);
    assert.deepEqual(resumed.events.map((e) => e.id), ['3', '4', '5', '6', '7', '8', '9', '10']);
    assert.equal(resumed.events.at(-1)!.event, 'run.completed');
    assert.equal((JSON.parse(resumed.events.at(-1)!.data!) as { output: string }).output, 'w1 w2 w3 w4 w5 w6 w7 w8');
  });

  test('bad positions: ?after= is 422 naming it, a bad Last-Event-ID is 400', async () => {
    const { runId } = await finishedRun();
    for (const after of ['-1', 'x', '1.5', '99999999999']) {
      const reply = await request(`${t.url}/v1/runs/${runId}/events?after=${after}`, { headers: auth(main.value) });
      assert.equal(reply.status, 422, after);
      assert.match(reply.json<{ error: { message: string } }>().error.message, /^after:/);
    }
    const twice = await request(`${t.url}/v1/runs/${runId}/events?after=1&after=2`, { headers: auth(main.value) });
    assert.equal(twice.status, 422);
    const header = await request(`${t.url}/v1/runs/${runId}/events`, { headers: { ...auth(main.value), 'Last-Event-ID': 'abc' } });
    assert.equal(header.status, 400);
    assert.equal(header.json<{ error: { code: string } }>().error.code, 'invalid_request');
  });

  test('revoking the token ends a resumed stream within 1 s, and the run with it', async () => {
    const token = await issue('revoked while resumed');
    const client = new SseClient(`${t.url}/v1/trigger/hang`, token.value, {}, { 'Mechamental-Run-Mode': 'background' });
    const delta = await client.waitFor('message.delta');
    const pids = pidsOf(delta.data!);
    const runId = String(client.headers['mechamental-run-id']);
    client.disconnect();
    const reading = new StreamReader(`${t.url}/v1/runs/${runId}/events?after=1`, auth(token.value));
    await reading.opened();
    const revokedAt = Date.now();
    await services.tokens.revoke(token.token.id, 'cli');
    await reading.done;
    const ended = reading;
    assert.ok(Date.now() - revokedAt < 1_000, `ended ${Date.now() - revokedAt} ms after the revoke`);
    const last = ended.events.at(-1)!;
    assert.equal(last.event, 'run.failed');
    assert.equal((JSON.parse(last.data!) as { error: { code: string } }).error.code, 'token_revoked');
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the background run\'s processes to be killed');
  });
});

describe('cancel', () => {
  test('POST /v1/runs/:id/cancel ends the run with run.failed cancelled and kills the child and its group', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/hang`, main.value, {});
    const delta = await client.waitFor('message.delta');
    const pids = pidsOf(delta.data!);
    assert.ok(pids.every(alive));
    const runId = String(client.headers['mechamental-run-id']);
    const reply = await request(`${t.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth(main.value) });
    assert.equal(reply.status, 200);
    const view = reply.json<{ status: string; error: { code: string }; ended_at: string }>();
    assert.equal(view.status, 'failed');
    assert.equal(view.error.code, 'cancelled');
    await client.done;
    const last = client.events.at(-1)!;
    assert.equal(last.event, 'run.failed');
    assert.equal((JSON.parse(last.data!) as { error: { code: string } }).error.code, 'cancelled');
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the command processes to be gone');
    // Cancelling again changes nothing.
    const again = await request(`${t.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth(main.value) });
    assert.equal(again.status, 200);
    assert.equal(again.json<{ error: { code: string } }>().error.code, 'cancelled');
  });

  test('a JSON caller whose run is cancelled gets 409 cancelled with the run id; a finished run stays as it was', async () => {
    const pending = request(`${t.url}/v1/trigger/hang`, { method: 'POST', headers: json(main.value), body: {} });
    // A JSON caller learns its run id with the answer; the test finds it as a reconnect would.
    const run = await eventually(async () => {
      const found = await services.runs.findRecent(main.token.id, 'hang', 1);
      return found?.status === 'running' ? found : undefined;
    }, 5_000, 'the run');
    await request(`${t.url}/v1/runs/${run.id}/cancel`, { method: 'POST', headers: auth(main.value) });
    const reply = await pending;
    assert.equal(reply.status, 409);
    assert.deepEqual(reply.json<{ error: { code: string; run_id: string } }>().error.code, 'cancelled');
    assert.equal(reply.json<{ error: { run_id: string } }>().error.run_id, run.id);
    const { runId } = await finishedRun();
    const finished = await request(`${t.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth(main.value) });
    assert.equal(finished.json<{ status: string }>().status, 'completed');
  });
});

describe('background runs', () => {
  test('Mechamental-Run-Mode: background: the run goes on after the client left and can be resumed', async () => {
    fs.rmSync(marker, { force: true });
    const client = new SseClient(`${t.url}/v1/trigger/marked`, main.value, {}, { 'Mechamental-Run-Mode': 'background' });
    await client.waitFor('message.delta');
    const runId = String(client.headers['mechamental-run-id']);
    client.disconnect();
    await eventually(() => fs.existsSync(marker), 10_000, 'the run to leave its mark');
    const view = await eventually(async () => {
      const v = (await request(`${t.url}/v1/runs/${runId}`, { headers: auth(main.value) })).json<{ status: string; output?: string }>();
      return v.status === 'completed' ? v : undefined;
    });
    assert.equal(view.output, 'started\nfinished\n');
    const replay = await readEvents(`${t.url}/v1/runs/${runId}/events?after=2`, auth(main.value));
    assert.deepEqual(replay.events.map((e) => e.event), ['message.delta', 'run.completed']);
  });

  test('without it, the client leaving stops the run: run.failed client_gone, and the mark is never left', async () => {
    fs.rmSync(marker, { force: true });
    const client = new SseClient(`${t.url}/v1/trigger/marked`, main.value, {});
    await client.waitFor('message.delta');
    const runId = String(client.headers['mechamental-run-id']);
    client.disconnect();
    const view = await eventually(async () => {
      const v = (await request(`${t.url}/v1/runs/${runId}`, { headers: auth(main.value) })).json<{ status: string; error?: { code: string } }>();
      return v.status !== 'running' ? v : undefined;
    });
    assert.equal(view.error?.code, 'client_gone');
    await new Promise((resolve) => setTimeout(resolve, 900));
    assert.equal(fs.existsSync(marker), false);
  });

  test('a bad Mechamental-Run-Mode is 400 naming the header', async () => {
    const reply = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { ...json(main.value), 'Mechamental-Run-Mode': 'later' }, body: {} });
    assert.equal(reply.status, 400);
    assert.match(reply.json<{ error: { message: string } }>().error.message, /Mechamental-Run-Mode/);
  });
});

describe('the EventSource reconnect rule (the eventsource package)', () => {
  test('exactly one run, however often it reconnects: after the end, the reconnect gets 204 and EventSource stops', async () => {
    const before = runs(0);
    const es = triggerSource(`${t.url}/v1/trigger/counted`, main.value, { n: 1 }, { sendRunId: true });
    assert.equal(await es.closed, 204);
    assert.deepEqual(es.statuses, [200, 204]);
    assert.equal(es.requests[1]!['Last-Event-ID'], '8');
    assert.equal(es.requests[1]!['Mechamental-Run-Id'], es.runId());
    assert.deepEqual(es.events.map((e) => e.id), ['1', '2', '3', '4', '5', '6', '7', '8']);
    assert.equal(runs(before), 1);
  });

  test('cut mid-stream three times, it resumes each time from its Last-Event-ID: every event once, in order, one run', async () => {
    for (const sendRunId of [true, false]) {
      const before = runs(0);
      const es = triggerSource(`${t.url}/v1/trigger/counted`, main.value, { n: 2 }, { sendRunId, drops: 3, headers: { 'Mechamental-Run-Mode': 'background' } });
      assert.equal(await es.closed, 204, `sendRunId ${sendRunId}`);
      // Cut at least once mid-run (how many cuts land before the run ends depends on the machine's pace).
      assert.ok(es.statuses.length >= 3, `connections: ${es.statuses.join(',')}`);
      assert.ok(Number(es.requests[1]!['Last-Event-ID']) < 8, `the first reconnect resumed from ${es.requests[1]!['Last-Event-ID']}`);
      assert.deepEqual(es.statuses.slice(-1), [204]);
      assert.ok(es.statuses.slice(0, -1).every((s) => s === 200));
      assert.deepEqual(es.events.map((e) => e.id), ['1', '2', '3', '4', '5', '6', '7', '8'], `sendRunId ${sendRunId}`);
      const deltas = es.events.filter((e) => e.name === 'message.delta').map((e) => (JSON.parse(e.data) as { text: string }).text);
      assert.deepEqual(deltas, ['line 1\n', 'line 2\n', 'line 3\n', 'line 4\n', 'line 5\n', 'line 6\n']);
      assert.equal(runs(before), 1, `one run (sendRunId ${sendRunId})`);
    }
  });

  test('a reconnect that names no run is 409 run_not_found (never a new run); a bad Last-Event-ID is 400', async () => {
    const before = runs(0);
    const headers = { ...json(main.value), Accept: 'text/event-stream' };
    const unknown = await request(`${t.url}/v1/trigger/counted`, { method: 'POST', headers: { ...headers, 'Last-Event-ID': '3', 'Mechamental-Run-Id': 'run_0123456789abcdef01234567' }, body: {} });
    assert.equal(unknown.status, 409);
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'run_not_found');
    // No run of that pipeline has event 500.
    const tooFar = await request(`${t.url}/v1/trigger/counted`, { method: 'POST', headers: { ...headers, 'Last-Event-ID': '500' }, body: {} });
    assert.equal(tooFar.status, 409);
    // A run of another pipeline is not this pipeline's.
    const { runId } = await finishedRun();
    const elsewhere = await request(`${t.url}/v1/trigger/counted`, { method: 'POST', headers: { ...headers, 'Last-Event-ID': '1', 'Mechamental-Run-Id': runId }, body: {} });
    assert.equal(elsewhere.status, 409);
    const bad = await request(`${t.url}/v1/trigger/counted`, { method: 'POST', headers: { ...headers, 'Last-Event-ID': 'x' }, body: {} });
    assert.equal(bad.status, 400);
    assert.equal(runs(before), 0);
  });

  test('a reconnect still authenticates: a revoked token gets 401 and EventSource stops', async () => {
    const token = await issue('revoked before reconnect');
    const { runId } = await (async () => {
      const client = new SseClient(`${t.url}/v1/trigger/chat`, token.value, { message: 'x y' });
      await client.done;
      return { runId: String(client.headers['mechamental-run-id']) };
    })();
    await services.tokens.revoke(token.token.id, 'cli');
    const reply = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { ...json(token.value), Accept: 'text/event-stream', 'Last-Event-ID': '1', 'Mechamental-Run-Id': runId }, body: {} });
    assert.equal(reply.status, 401);
  });
});

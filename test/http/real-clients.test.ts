import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { eventually, parseEvents, startTestServer } from '../helpers/server';

// Clients we did not write, against the seed (app `default`, pipeline `chat`, kind echo), as an
// integrator would use them (issue 10). docs/runs.md defines the reconnect: an EventSource that
// reconnects after the run ended gets 204 and stops, and never starts a new run.
const run = promisify(execFile);
const t = await startTestServer();
const { services } = t;
const issued = await services.tokens.create({ app: 'default', name: 'clients', expires: '30d' }, 'cli');
const TOKEN = issued.value;
after(() => services.tokens.revoke(issued.token.id, 'cli').catch(() => {}));

const MESSAGE = 'Summarize the Q3 report';
const WORDS = ['Summarize ', 'the ', 'Q3 ', 'report'];
/** What every stream of this run must be: ids 1…6, started, one delta per word, completed. */
function assertExactRun(events: Array<{ id?: string | undefined; event?: string | undefined; data: string }>, runId: string): void {
  assert.deepEqual(
    events.map((e) => [e.id, e.event]),
    [['1', 'run.started'], ...WORDS.map((_, i) => [String(i + 2), 'message.delta']), ['6', 'run.completed']],
    JSON.stringify(events),
  );
  assert.deepEqual(JSON.parse(events[0]!.data), { run_id: runId, pipeline: 'chat' });
  assert.deepEqual(events.slice(1, -1).map((e) => (JSON.parse(e.data) as { text: string }).text), WORDS);
  assert.deepEqual(JSON.parse(events.at(-1)!.data), { run_id: runId, output: MESSAGE });
}

const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

describe('the eventsource package (a fetch that POSTs), as docs/runs.md shows it', () => {
  for (const sendRunId of [true, false]) {
    test(`reads started → deltas → completed once, then its reconnect (Last-Event-ID: 6${sendRunId ? ', Mechamental-Run-Id' : ''}) gets 204 and it stops; one run`, async () => {
      const runsBefore = services.runs.size;
      let runId: string | undefined;
      const connections: Array<{ lastEventId: string | null; status: number }> = [];
      const events: Array<{ id: string; event: string; data: string }> = [];
      const source = new EventSource(`${t.url}/v1/trigger/chat`, {
        fetch: async (url, init) => {
          const sent = new Headers(init.headers);
          const response = await fetch(url, {
            ...init,
            method: 'POST',
            headers: { ...Object.fromEntries(sent), ...headers, 'Mechamental-Run-Mode': 'background', ...(sendRunId && runId ? { 'Mechamental-Run-Id': runId } : {}) },
            body: JSON.stringify({ message: MESSAGE }),
          });
          connections.push({ lastEventId: sent.get('last-event-id'), status: response.status });
          runId ??= response.headers.get('mechamental-run-id') ?? undefined;
          return response;
        },
      });
      const errors: string[] = [];
      for (const name of ['run.started', 'message.delta', 'run.completed', 'run.failed']) {
        source.addEventListener(name, (event) => events.push({ id: event.lastEventId, event: name, data: event.data }));
      }
      source.addEventListener('error', (event) => errors.push(String((event as { message?: string }).message ?? 'error')));
      try {
        // The server's retry: is 3000 ms: EventSource waits that long, reconnects, gets 204 and closes.
        await eventually(() => source.readyState === EventSource.CLOSED, 15_000, 'EventSource to stop after the 204');
      } finally {
        source.close();
      }
      assertExactRun(events, runId!);
      assert.deepEqual(connections, [
        { lastEventId: null, status: 200 },
        { lastEventId: '6', status: 204 },
      ]);
      assert.equal(services.runs.size, runsBefore + 1, 'the reconnect started no run');
    });
  }
});

/** POSTs the trigger (or GETs a run's events) with fetch and parses the stream with eventsource-parser. */
async function readWithParser(url: string, init: RequestInit): Promise<{ status: number; runId: string | null; retry: number | undefined; events: EventSourceMessage[] }> {
  const response = await fetch(url, init);
  const events: EventSourceMessage[] = [];
  let retry: number | undefined;
  const parser = createParser({ onEvent: (event) => events.push(event), onRetry: (ms) => (retry = ms) });
  if (response.body) for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
  return { status: response.status, runId: response.headers.get('mechamental-run-id'), retry, events };
}

describe('fetch + eventsource-parser', () => {
  test('a trigger stream: retry 3000, then exactly started → deltas → completed; resuming after 3 gives 4–6; after 6, 204', async () => {
    const live = await readWithParser(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { ...headers, Accept: 'text/event-stream' }, body: JSON.stringify({ message: MESSAGE }) });
    assert.equal(live.status, 200);
    assert.equal(live.retry, 3000);
    assert.match(live.runId!, /^run_[0-9a-f]{24}$/);
    assertExactRun(live.events, live.runId!);

    const resumed = await readWithParser(`${t.url}/v1/runs/${live.runId}/events`, { headers: { Authorization: headers.Authorization, 'Last-Event-ID': '3' } });
    assert.equal(resumed.status, 200);
    assert.deepEqual(resumed.events.map((e) => e.id), ['4', '5', '6']);
    assert.deepEqual(resumed.events.map((e) => e.data), live.events.slice(3).map((e) => e.data));
    const byQuery = await readWithParser(`${t.url}/v1/runs/${live.runId}/events?after=5`, { headers: { Authorization: headers.Authorization } });
    assert.deepEqual(byQuery.events.map((e) => [e.id, e.event]), [['6', 'run.completed']]);
    const done = await fetch(`${t.url}/v1/runs/${live.runId}/events`, { headers: { Authorization: headers.Authorization, 'Last-Event-ID': '6' } });
    assert.equal(done.status, 204);
  });

  test('a JSON trigger has the same events, readable after it answered', async () => {
    const answer = await fetch(`${t.url}/v1/trigger/chat`, { method: 'POST', headers, body: JSON.stringify({ message: MESSAGE }) });
    const body = (await answer.json()) as { run_id: string; pipeline: string; output: string };
    assert.deepEqual(body, { run_id: answer.headers.get('mechamental-run-id'), pipeline: 'chat', output: MESSAGE });
    const events = await readWithParser(`${t.url}/v1/runs/${body.run_id}/events`, { headers: { Authorization: headers.Authorization } });
    assertExactRun(events.events, body.run_id);
  });
});

describe('curl (as the README shows it)', () => {
  const curl = (...args: string[]) => run('curl', ['-sS', ...args], { timeout: 20_000 });

  test('JSON: the output; SSE with -N: the exact events; HTTP/1.0 SSE too', async () => {
    const json = await curl(`${t.url}/v1/trigger/chat`, '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ message: MESSAGE }));
    assert.equal((JSON.parse(json.stdout) as { output: string }).output, MESSAGE);
    for (const extra of [[], ['--http1.0']]) {
      const sse = await curl('-N', ...extra, `${t.url}/v1/trigger/chat`, '-H', `Authorization: Bearer ${TOKEN}`, '-H', 'Content-Type: application/json', '-H', 'Accept: text/event-stream', '-d', JSON.stringify({ message: MESSAGE }));
      assert.match(sse.stdout, /^retry: 3000\n\n/);
      const events = parseEvents(sse.stdout).map((e) => ({ id: e.id, event: e.event, data: e.data ?? '' }));
      assertExactRun(events, (JSON.parse(events[0]!.data) as { run_id: string }).run_id);
    }
  });

  test('errors: --fail-with-body exits 22 with the JSON error; the challenge is in the headers', async () => {
    const refused = await curl('--fail-with-body', '-i', `${t.url}/v1/trigger/chat`, '-H', 'Authorization: Bearer mm_tok_nope', '-d', '{}').then(
      () => assert.fail('curl should fail'),
      (error: { code: number; stdout: string }) => error,
    );
    assert.equal(refused.code, 22);
    assert.match(refused.stdout, /^HTTP\/1\.1 401/);
    assert.match(refused.stdout, /WWW-Authenticate: Bearer realm="mechamental", error="invalid_token"/i);
    assert.match(refused.stdout, /\{"error":\{"code":"invalid_token","message":"[^"]+"\}\}$/);
  });
});

/** A python3 that has `requests`: the one on PATH, or Debian's (python3-requests). */
function pythonWithRequests(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(python, ['-c', 'import requests'], { stdio: 'ignore' });
      return python;
    } catch {
      // not this one
    }
  }
  return null;
}
const PYTHON = pythonWithRequests();

describe('Python requests (when installed; PyPI is not reachable here, so httpx is not tested)', () => {
  test('streams the SSE answer line by line: the same exact events', { skip: PYTHON ? false : 'python3 with requests is not installed: apt-get install python3-requests' }, async () => {
    const script = `
import json, sys, requests
r = requests.post(sys.argv[1] + "/v1/trigger/chat", headers={"Authorization": "Bearer " + sys.argv[2], "Accept": "text/event-stream"}, json={"message": sys.argv[3]}, stream=True, timeout=20)
r.raise_for_status()
event = {}
for line in r.iter_lines(decode_unicode=True):
    if line == "":
        if "event" in event: print(json.dumps(event))
        event = {}
    elif not line.startswith(":"):
        field, _, value = line.partition(": ")
        event[field] = value
`;
    const { stdout } = await run(PYTHON!, ['-c', script, t.url, TOKEN, MESSAGE], { timeout: 30_000 });
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; event: string; data: string });
    assertExactRun(events, (JSON.parse(events[0]!.data) as { run_id: string }).run_id);
  });
});

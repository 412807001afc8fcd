import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCliAsync } from '../helpers/cli';
import { storeEnv } from '../helpers/services';
import { eventually, request, SseClient, startTestServer } from '../helpers/server';
import { alive } from '../helpers/process';

const t = await startTestServer({ server: { pingIntervalMs: 100 } });
const { services } = t;
await services.pipelines.create('default', { slug: 'slow-echo', kind: 'echo', config: { delay_ms: 100 } }, 'cli');
// Prints its own pid and a background child's pid, then waits: the whole group must die on abort.
await services.pipelines.create('default', { slug: 'hang', kind: 'command', config: { argv: ['sh', '-c', 'sleep 30 & echo "$$ $!"; wait'] } }, 'cli');
await services.pipelines.create('default', { slug: 'fails', kind: 'command', config: { argv: ['sh', '-c', 'echo working; echo "model not loaded" >&2; exit 1'] } }, 'cli');
await services.pipelines.create('default', { slug: 'slow', kind: 'command', config: { argv: ['sleep', '10'], timeout_ms: 150 } }, 'cli');

async function issue(name: string, expires = '30d') {
  return await services.tokens.create({ app: 'default', name, expires }, 'cli');
}

const main = await issue('stream');

describe('SSE', () => {
  test('framing and order: run.started, message.delta*, run.completed; then the stream closes', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/chat`, main.value, { message: 'Summarize the Q3 report' });
    await client.done;
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['cache-control'], 'no-cache');
    assert.equal(client.headers['x-accel-buffering'], 'no');
    assert.equal(client.headers['mechamental-token-expiration'], main.token.expires_at);
    assert.ok(!client.raw.includes('\r'), 'LF line ends only');
    // retry: first (SPEC "Runs"), then the events with the run's own sequence numbers.
    assert.match(client.raw, /^retry: 3000\n\nid: 1\nevent: run\.started\ndata: \{"run_id":"run_[0-9a-f]{24}","pipeline":"chat"\}\n\n/);
    const names = client.events.map((e) => e.event);
    assert.deepEqual(names, ['run.started', 'message.delta', 'message.delta', 'message.delta', 'message.delta', 'run.completed']);
    assert.deepEqual(client.events.map((e) => e.id), ['1', '2', '3', '4', '5', '6']);
    const runId = (JSON.parse(client.events[0]!.data!) as { run_id: string }).run_id;
    const deltas = client.events.filter((e) => e.event === 'message.delta').map((e) => (JSON.parse(e.data!) as { text: string }).text);
    assert.equal(deltas.join(''), 'Summarize the Q3 report');
    assert.deepEqual(JSON.parse(client.events.at(-1)!.data!), { run_id: runId, output: 'Summarize the Q3 report' });
    assert.equal(client.headers['mechamental-run-id'], runId);
    for (const block of client.raw.split('\n\n').filter(Boolean)) {
      const lines = block.split('\n');
      if (lines[0]!.startsWith(':') || lines[0]!.startsWith('retry: ')) continue;
      assert.equal(lines.length, 3, `one-line JSON data per event: ${block}`);
    }
  });

  test('a run that answered at once is one sized body; a run that goes on is streamed as it comes (chunked)', async () => {
    const now = new SseClient(`${t.url}/v1/trigger/chat`, main.value, { message: 'at once' });
    await now.done;
    assert.equal(now.headers['content-length'], String(Buffer.byteLength(now.raw)));
    assert.equal(now.headers['transfer-encoding'], undefined);
    assert.equal(now.events.at(-1)!.event, 'run.completed');
    const later = new SseClient(`${t.url}/v1/trigger/slow-echo`, main.value, { message: 'a b' });
    await later.waitFor('run.started');
    assert.equal(later.headers['transfer-encoding'], 'chunked');
    assert.equal(later.headers['content-length'], undefined);
    await later.done;
    assert.equal(later.events.at(-1)!.event, 'run.completed');
  });

  test('idle streams get ": ping" comments', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/slow-echo`, main.value, { message: 'a b c d e' });
    await client.done;
    assert.match(client.raw, /\n\n: ping\n\n/);
    assert.equal(client.events.at(-1)!.event, 'run.completed');
  });

  test('a failing pipeline ends with run.failed pipeline_failed (a generic message, the stderr tail only in the log); a slow one with pipeline_timeout', async () => {
    const failing = new SseClient(`${t.url}/v1/trigger/fails`, main.value, { message: 'x' });
    await failing.done;
    assert.deepEqual(failing.events.map((e) => e.event), ['run.started', 'message.delta', 'run.failed']);
    const failure = JSON.parse(failing.events.at(-1)!.data!) as { run_id: string; error: { code: string; message: string } };
    assert.equal(failure.error.code, 'pipeline_failed');
    assert.match(failure.error.message, /the server log has the details/);
    assert.doesNotMatch(failure.error.message, /model not loaded/);
    const slow = new SseClient(`${t.url}/v1/trigger/slow`, main.value, { message: 'x' });
    await slow.done;
    assert.equal((JSON.parse(slow.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'pipeline_timeout');
  });

  test('client disconnect aborts the run: the command and its whole process group are killed', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/hang`, main.value, { message: 'x' });
    const delta = await client.waitFor('message.delta');
    const pids = (JSON.parse(delta.data!) as { text: string }).text.trim().split(' ').map(Number);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    client.disconnect();
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the command processes to be gone');
    await eventually(() => t.server.streams.size === 0, 2_000, 'the stream to be unregistered');
  });

  test('revoke (in this process) ends the open stream with run.failed token_revoked within 1 s', async () => {
    const token = await issue('revoked-in-process');
    const client = new SseClient(`${t.url}/v1/trigger/hang`, token.value, { message: 'x' });
    const delta = await client.waitFor('message.delta');
    const pids = (JSON.parse(delta.data!) as { text: string }).text.trim().split(' ').map(Number);
    const revokedAt = Date.now();
    await services.tokens.revoke(token.token.id, 'cli');
    await client.done;
    assert.ok(Date.now() - revokedAt < 1_000, `ended after ${Date.now() - revokedAt} ms`);
    const last = client.events.at(-1)!;
    assert.equal(last.event, 'run.failed');
    assert.equal((JSON.parse(last.data!) as { error: { code: string } }).error.code, 'token_revoked');
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the command to be killed');
  });

  test('revoke from another process (the CLI on the same file) ends the stream within 1 s', async () => {
    const token = await issue('revoked-by-cli');
    const client = new SseClient(`${t.url}/v1/trigger/hang`, token.value, { message: 'x' });
    await client.waitFor('message.delta');
    const result = await runCliAsync(['tokens', 'revoke', token.token.id], { env: storeEnv(services) });
    const returnedAt = Date.now();
    assert.equal(result.code, 0, result.stderr);
    await client.done;
    assert.ok(Date.now() - returnedAt < 1_000, `ended ${Date.now() - returnedAt} ms after the CLI returned`);
    assert.equal((JSON.parse(client.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'token_revoked');
    // And the next request with it is refused.
    const next = await request(`${t.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${token.value}`, 'Content-Type': 'application/json' }, body: { message: 'x' } });
    assert.equal(next.status, 401);
  });

  test('revoke through the admin API ends the stream too', async () => {
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    const token = await issue('revoked-by-api');
    const client = new SseClient(`${t.url}/v1/trigger/hang`, token.value, { message: 'x' });
    await client.waitFor('message.delta');
    const reply = await request(`${t.url}/v1/apps/default/tokens/${token.token.id}/revoke`, { method: 'POST', headers: { Authorization: `Bearer ${admin.value}` } });
    assert.equal(reply.status, 200);
    const answeredAt = Date.now();
    await client.done;
    assert.ok(Date.now() - answeredAt < 1_000);
    assert.equal((JSON.parse(client.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'token_revoked');
  });

  test('a stream whose token expires ends with run.failed token_expired', async () => {
    const token = await issue('expiring', '1h');
    const client = new SseClient(`${t.url}/v1/trigger/hang`, token.value, { message: 'x' });
    await client.waitFor('message.delta');
    services.clock.advance(3_600_000 + 1);
    try {
      await client.done;
    } finally {
      services.clock.advance(-3_600_000 - 1);
    }
    assert.equal((JSON.parse(client.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'token_expired');
  });

  test('the open-streams gauge follows the streams', async () => {
    const client = new SseClient(`${t.url}/v1/trigger/hang`, main.value, { message: 'x' });
    await client.waitFor('message.delta');
    assert.match((await request(`${t.url}/metrics`)).body, /mechamental_sse_streams_open 1/);
    client.disconnect();
    await eventually(async () => /mechamental_sse_streams_open 0/.test((await request(`${t.url}/metrics`)).body), 2_000, 'gauge back to 0');
  });
});

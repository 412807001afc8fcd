import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { RunEventRow, RunRow } from '../../src/db/store';
import { StreamReader } from '../helpers/event-source';
import { freshDatabase, requirePostgres, testPostgresUrl } from '../helpers/postgres';
import { alive } from '../helpers/process';
import { execSql } from '../helpers/rows';
import { eventually, request, SseClient, startTestServer, type TestServer } from '../helpers/server';

// PostgreSQL: a run can be read, resumed and cancelled through any instance (SPEC "Runs", "More
// than one instance"). Two servers, A and B, on one database, as two instances behind a balancer.
let a: TestServer;
let b: TestServer;
let main: { value: string; token: { id: string } };
let other: { value: string };
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-runs-pg-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
const counter = path.join(scratch, 'count.txt');
fs.writeFileSync(counter, '');
const runs = () => fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;

if (testPostgresUrl()) {
  const url = await freshDatabase();
  a = await startTestServer({ databaseUrl: url, server: { sseRetryMs: 50 } });
  b = await startTestServer({ databaseUrl: url, server: { sseRetryMs: 50 } });
  const s = a.services;
  await s.pipelines.create('default', { slug: 'slow-echo', kind: 'echo', config: { delay_ms: 80 } }, 'cli');
  await s.pipelines.create('default', { slug: 'hang', kind: 'command', config: { argv: ['sh', '-c', 'sleep 30 & echo "$$ $!"; wait'] } }, 'cli');
  await s.pipelines.create('default', { slug: 'counted', kind: 'command', config: { argv: ['sh', '-c', 'echo run >> "$0"; for i in 1 2 3; do echo "line $i"; sleep 0.2; done', counter] } }, 'cli');
  main = await s.tokens.create({ app: 'default', name: 'two instances', expires: '30d' }, 'cli');
  other = await s.tokens.create({ app: 'default', name: 'someone else', expires: '30d' }, 'cli');
}

const auth = (value: string) => ({ Authorization: `Bearer ${value}` });
const json = (value: string) => ({ ...auth(value), 'Content-Type': 'application/json' });

describe('runs across instances (PostgreSQL)', () => {
  test('a run started on A is resumed through B: the missed events, then live to the end; the delay is measured', async (t) => {
    if (!requirePostgres(t)) return;
    const words = Array.from({ length: 12 }, (_, i) => `w${i + 1}`).join(' ');
    const onA = new SseClient(`${a.url}/v1/trigger/slow-echo`, main.value, { message: words });
    const seenOnA = new Map<string, number>();
    const seenOnB = new Map<string, number>();
    await onA.waitFor('message.delta');
    const runId = String(onA.headers['mechamental-run-id']);
    const onB = await eventually(async () => {
      const reader = new StreamReader(`${b.url}/v1/runs/${runId}/events`, { ...auth(main.value), 'Last-Event-ID': '1' });
      await eventually(() => reader.status !== 0, 5_000);
      if (reader.status === 200) return reader;
      reader.close();
      return undefined; // not written to the database yet (the first batch is at most ~75 ms away)
    }, 5_000, 'the run to be readable on B');
    const poll = setInterval(() => {
      for (const e of onA.events) if (!seenOnA.has(e.id!)) seenOnA.set(e.id!, performance.now());
      for (const e of onB.events) if (!seenOnB.has(e.id!)) seenOnB.set(e.id!, performance.now());
    }, 2);
    await Promise.all([onA.done, onB.done]);
    clearInterval(poll);
    for (const e of onB.events) if (!seenOnB.has(e.id!)) seenOnB.set(e.id!, performance.now());
    assert.deepEqual(onB.events.map((e) => e.id), Array.from({ length: 13 }, (_, i) => String(i + 2)));
    assert.deepEqual(onB.events, onA.events.slice(1));
    assert.equal(onB.headers['mechamental-run-id'], runId);
    // The delay from A's client to B's, for the live events (those B did not replay at once).
    const delays = [...seenOnB].filter(([id]) => Number(id) > 3).map(([id, at]) => at - seenOnA.get(id)!).sort((x, y) => x - y);
    const median = delays[Math.floor(delays.length / 2)]!;
    t.diagnostic(`follower delay over ${delays.length} live events: median ${median.toFixed(0)} ms, max ${delays.at(-1)!.toFixed(0)} ms`);
    assert.ok(delays.at(-1)! < 1_500, `an event reached B ${delays.at(-1)} ms after A`);

    // B answers its status too, and the trigger's reconnect through B resumes it (after the end: 204).
    const view = await request(`${b.url}/v1/runs/${runId}`, { headers: auth(main.value) });
    assert.equal(view.json<{ status: string; output: string }>().output, words);
    const reconnect = await request(`${b.url}/v1/trigger/slow-echo`, {
      method: 'POST',
      headers: { ...json(main.value), Accept: 'text/event-stream', 'Last-Event-ID': '10', 'Mechamental-Run-Id': runId },
      body: {},
    });
    assert.equal(reconnect.status, 200);
    assert.deepEqual(reconnect.body.split('\n').filter((l) => l.startsWith('id: ')), ['id: 11', 'id: 12', 'id: 13', 'id: 14']);
    const done = await request(`${b.url}/v1/trigger/slow-echo`, {
      method: 'POST',
      headers: { ...json(main.value), Accept: 'text/event-stream', 'Last-Event-ID': '14' },
      body: {},
    });
    assert.equal(done.status, 204);
    // Another token sees nothing on B either.
    assert.equal((await request(`${b.url}/v1/runs/${runId}`, { headers: auth(other.value) })).status, 404);
  });

  test('events reach the database in batches, not one write per delta', async (t) => {
    if (!requirePostgres(t)) return;
    const repo = a.services.store.runs!;
    const write = repo.write.bind(repo);
    let writes = 0;
    let events = 0;
    repo.write = async (rows: ReadonlyArray<Omit<RunRow, 'cancelRequestedAt'>>, batch: readonly RunEventRow[]) => {
      writes++;
      events += batch.length;
      return write(rows, batch);
    };
    try {
      const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
      const client = new SseClient(`${a.url}/v1/trigger/chat`, main.value, { message: words });
      await client.done;
      await a.services.runs.flush();
      assert.equal(events, 202);
      assert.ok(writes <= 3, `${writes} writes for 202 events`);
    } finally {
      repo.write = write;
    }
  });

  test('cancel through B stops the run on A: run.failed cancelled, the child killed', async (t) => {
    if (!requirePostgres(t)) return;
    const onA = new SseClient(`${a.url}/v1/trigger/hang`, main.value, {});
    const delta = await onA.waitFor('message.delta');
    const pids = (JSON.parse(delta.data!) as { text: string }).text.trim().split(' ').map(Number);
    const runId = String(onA.headers['mechamental-run-id']);
    await eventually(async () => (await request(`${b.url}/v1/runs/${runId}`, { headers: auth(main.value) })).status === 200, 5_000, 'the run on B');
    assert.equal((await request(`${b.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth(other.value) })).status, 404);
    const reply = await request(`${b.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: auth(main.value) });
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ status: string; error: { code: string } }>().error.code, 'cancelled');
    await onA.done;
    assert.equal((JSON.parse(onA.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'cancelled');
    await eventually(() => pids.every((pid) => !alive(pid)), 5_000, 'the child to be killed');
  });

  test('revoking the token ends a stream resumed through B within 1 s', async (t) => {
    if (!requirePostgres(t)) return;
    const token = await a.services.tokens.create({ app: 'default', name: 'revoked across', expires: '30d' }, 'cli');
    const onA = new SseClient(`${a.url}/v1/trigger/hang`, token.value, {}, { 'Mechamental-Run-Mode': 'background' });
    await onA.waitFor('message.delta');
    const runId = String(onA.headers['mechamental-run-id']);
    onA.disconnect();
    const onB = await eventually(async () => {
      const reader = new StreamReader(`${b.url}/v1/runs/${runId}/events`, auth(token.value));
      await eventually(() => reader.status !== 0, 5_000);
      if (reader.status === 200) return reader;
      reader.close();
      return undefined;
    }, 5_000, 'the run on B');
    await eventually(() => onB.events.length >= 2, 5_000, 'the replay');
    const revokedAt = Date.now();
    await a.services.tokens.revoke(token.token.id, 'cli');
    await onB.done;
    assert.ok(Date.now() - revokedAt < 1_000, `ended ${Date.now() - revokedAt} ms after the revoke`);
    assert.equal((JSON.parse(onB.events.at(-1)!.data!) as { error: { code: string } }).error.code, 'token_revoked');
  });

  test('Idempotency-Key across instances: a retry on B replays A\'s answer, or follows A\'s run while it runs', async (t) => {
    if (!requirePostgres(t)) return;
    const key = randomUUID();
    const start = runs();
    const first = request(`${a.url}/v1/trigger/counted`, { method: 'POST', headers: { ...json(main.value), 'Idempotency-Key': key }, body: { n: 1 } });
    await eventually(() => runs() === start + 1, 5_000, 'the run to start on A');
    const busy = await request(`${b.url}/v1/trigger/counted`, { method: 'POST', headers: { ...json(main.value), 'Idempotency-Key': key }, body: { n: 1 } });
    assert.equal(busy.status, 409);
    assert.equal(busy.json<{ error: { code: string } }>().error.code, 'idempotency_key_in_use');
    const follow = await request(`${b.url}/v1/trigger/counted`, { method: 'POST', headers: { ...json(main.value), 'Idempotency-Key': key, Accept: 'text/event-stream' }, body: { n: 1 } });
    const answer = await first;
    assert.equal(follow.status, 200);
    assert.deepEqual(follow.body.split('\n').filter((l) => l.startsWith('id: ')), ['id: 1', 'id: 2', 'id: 3', 'id: 4', 'id: 5']);
    await eventually(async () => {
      const retry = await request(`${b.url}/v1/trigger/counted`, { method: 'POST', headers: { ...json(main.value), 'Idempotency-Key': key }, body: { n: 1 } });
      return retry.status === 200 && retry.body === answer.body && retry.headers['idempotent-replayed'] === 'true';
    }, 5_000, 'the replay on B');
    assert.equal(runs(), start + 1);
  });

  test('a running run whose instance stopped sending heartbeats ends as run_interrupted wherever it is read', async (t) => {
    if (!requirePostgres(t)) return;
    const id = 'run_0000000000000000deadbeef';
    const now = b.services.clock.now();
    await execSql(b.services, 'INSERT INTO runs (id, token_id, pipeline, status, started_at, last_seq, owner, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [id, main.token.id, 'chat', 'running', now - 120_000, 1, 'gone', now - 90_000]);
    await execSql(b.services, "INSERT INTO run_events (run_id, seq, event, data) VALUES (?, 1, 'run.started', ?)", [id, JSON.stringify({ run_id: id, pipeline: 'chat' })]);
    const view = await request(`${b.url}/v1/runs/${id}`, { headers: auth(main.value) });
    assert.equal(view.json<{ status: string; error: { code: string } }>().error.code, 'run_interrupted');
    const events = await request(`${b.url}/v1/runs/${id}/events`, { headers: auth(main.value) });
    assert.match(events.body, /id: 2\nevent: run\.failed\ndata: \{"run_id":"run_0000000000000000deadbeef","error":\{"code":"run_interrupted"/);
  });

  test('finished runs are pruned from the database after MM_RUN_RETENTION, in batches', async (t) => {
    if (!requirePostgres(t)) return;
    const client = new SseClient(`${a.url}/v1/trigger/chat`, main.value, { message: 'soon gone' });
    await client.done;
    const runId = String(client.headers['mechamental-run-id']);
    await a.services.runs.flush();
    a.services.clock.advance(16 * 60_000);
    try {
      await a.services.runs.prune();
    } finally {
      a.services.clock.advance(-16 * 60_000);
    }
    assert.equal((await request(`${b.url}/v1/runs/${runId}`, { headers: auth(main.value) })).status, 404);
  });
});

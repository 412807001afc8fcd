import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fingerprintOf } from '../../src/http/trigger/resume';
import { startServer } from '../../src/http/server';
import { triggerSource } from '../helpers/event-source';
import { execSql, rowsOf } from '../helpers/rows';
import { testServices } from '../helpers/services';
import { eventually, LogCapture, request, SseClient, startTestServer } from '../helpers/server';

// Idempotency-Key on the trigger (SPEC "Runs"): Stripe's semantics, scoped to the token, kept 24 h.
const t = await startTestServer({ server: { sseRetryMs: 50 } });
const { services } = t;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-idem-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
const counter = path.join(scratch, 'count.txt');
fs.writeFileSync(counter, '');
// Counts its runs, then streams three lines slowly enough for a retry to meet it running.
await services.pipelines.create('default', { slug: 'counted', kind: 'command', config: { argv: ['sh', '-c', 'echo run >> "$0"; for i in 1 2 3; do echo "line $i"; sleep 0.15; done', counter] } }, 'cli');
await services.pipelines.create('default', { slug: 'failing', kind: 'command', config: { argv: ['sh', '-c', 'echo run >> "$0"; exit 3', counter] } }, 'cli');

const main = await services.tokens.create({ app: 'default', name: 'idempotent', expires: '30d' }, 'cli');
const other = await services.tokens.create({ app: 'default', name: 'other', expires: '30d' }, 'cli');
const runs = () => fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;

function trigger(pipeline: string, key: string | undefined, body: object, options: { token?: string; sse?: boolean; headers?: Record<string, string> } = {}) {
  return request(`${t.url}/v1/trigger/${pipeline}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${options.token ?? main.value}`,
      'Content-Type': 'application/json',
      ...(key === undefined ? {} : { 'Idempotency-Key': key }),
      ...(options.sse ? { Accept: 'text/event-stream' } : {}),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
}

describe('Idempotency-Key', () => {
  test('a JSON retry gets the first answer again (Idempotent-Replayed: true); the pipeline ran once', async () => {
    const before = runs();
    const key = randomUUID();
    const first = await trigger('counted', key, { n: 1 });
    assert.equal(first.status, 200);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    for (let i = 0; i < 3; i++) {
      const retry = await trigger('counted', key, { n: 1 });
      assert.equal(retry.status, 200);
      assert.equal(retry.body, first.body);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(retry.headers['mechamental-run-id'], first.headers['mechamental-run-id']);
    }
    assert.equal(runs() - before, 1);
  });

  test('a failed run is replayed too, with its status', async () => {
    const before = runs();
    const key = randomUUID();
    const first = await trigger('failing', key, {});
    assert.equal(first.status, 502);
    const retry = await trigger('failing', key, {});
    assert.equal(retry.status, 502);
    assert.equal(retry.body, first.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(runs() - before, 1);
  });

  test('an SSE retry attaches to the same run from its first event, whether the first was SSE or JSON', async () => {
    for (const firstSse of [true, false]) {
      const before = runs();
      const key = randomUUID();
      const first = await trigger('counted', key, { n: 2 }, { sse: firstSse });
      const sse = await trigger('counted', key, { n: 2 }, { sse: true });
      assert.equal(sse.status, 200);
      assert.equal(sse.headers['idempotent-replayed'], 'true');
      assert.equal(sse.headers['mechamental-run-id'], first.headers['mechamental-run-id']);
      assert.match(sse.body, /^retry: 50\n\nid: 1\nevent: run\.started\n/);
      assert.match(sse.body, /id: 5\nevent: run\.completed\ndata: \{"run_id":"run_[0-9a-f]+","output":"line 1\\nline 2\\nline 3\\n"\}/);
      if (firstSse) assert.equal(sse.body, first.body);
      assert.equal(runs() - before, 1, `first ${firstSse ? 'SSE' : 'JSON'}`);
    }
  });

  test('while the first still runs: a JSON retry is 409 idempotency_key_in_use; an SSE retry follows the same run from event 1', async () => {
    const before = runs();
    const key = randomUUID();
    const first = trigger('counted', key, { n: 3 });
    await eventually(() => runs() - before === 1, 5_000, 'the first run to start');
    const busy = await trigger('counted', key, { n: 3 });
    assert.equal(busy.status, 409);
    assert.equal(busy.json<{ error: { code: string } }>().error.code, 'idempotency_key_in_use');
    assert.equal(busy.headers['retry-after'], '1');
    const follower = await trigger('counted', key, { n: 3 }, { sse: true });
    const answer = await first;
    assert.equal(answer.status, 200);
    assert.equal(follower.headers['mechamental-run-id'], answer.headers['mechamental-run-id']);
    assert.deepEqual(
      follower.body.split('\n').filter((l) => l.startsWith('id: ')),
      ['id: 1', 'id: 2', 'id: 3', 'id: 4', 'id: 5'],
    );
    assert.equal(runs() - before, 1);
  });

  test('EventSource with an Idempotency-Key: its reconnects find the run by the key; one run', async () => {
    const before = runs();
    const es = triggerSource(`${t.url}/v1/trigger/counted`, main.value, { n: 4 }, { drops: 1, headers: { 'Idempotency-Key': randomUUID(), 'Mechamental-Run-Mode': 'background' } });
    assert.equal(await es.closed, 204);
    assert.deepEqual(es.events.map((e) => e.id), ['1', '2', '3', '4', '5']);
    assert.equal(runs() - before, 1);
  });

  test('the same key with another body or another pipeline is 422 idempotency_key_mismatch', async () => {
    const key = randomUUID();
    assert.equal((await trigger('counted', key, { n: 5 })).status, 200);
    const before = runs();
    for (const [pipeline, body] of [
      ['counted', { n: 6 }],
      ['counted', { n: 5, extra: true }],
      ['failing', { n: 5 }],
    ] as const) {
      const reply = await trigger(pipeline, key, body);
      assert.equal(reply.status, 422, JSON.stringify(body));
      assert.equal(reply.json<{ error: { code: string } }>().error.code, 'idempotency_key_mismatch');
    }
    assert.equal(runs(), before);
  });

  test('keys are scoped to the token: another token with the same key runs its own', async () => {
    const before = runs();
    const key = randomUUID();
    const mine = await trigger('counted', key, { n: 7 });
    const theirs = await trigger('counted', key, { n: 7 }, { token: other.value });
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.notEqual(theirs.headers['mechamental-run-id'], mine.headers['mechamental-run-id']);
    assert.equal(runs() - before, 2);
  });

  test('a run stopped because its client left gives its key back: the retry runs again', async () => {
    const before = runs();
    const key = randomUUID();
    const client = new SseClient(`${t.url}/v1/trigger/counted`, main.value, { n: 8 }, { 'Idempotency-Key': key });
    await client.waitFor('message.delta');
    client.disconnect();
    await eventually(async () => (await rowsOf(services, 'idempotency_keys')).every((row) => row.key !== key), 5_000, 'the key to be given back');
    const retry = await trigger('counted', key, { n: 8 });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], undefined);
    assert.equal(runs() - before, 2);
  });

  test('bad keys are 400 invalid_request naming the header', async () => {
    for (const headers of [{ 'Idempotency-Key': '' }, { 'Idempotency-Key': 'k'.repeat(256) }, { 'Idempotency-Key': 'clé' }, { 'Idempotency-Key': ['a', 'b'] }] as Array<Record<string, string | string[]>>) {
      const reply = await request(`${t.url}/v1/trigger/chat`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${main.value}`, 'Content-Type': 'application/json', ...headers },
        body: '{}',
      });
      assert.equal(reply.status, 400, JSON.stringify(headers));
      assert.match(reply.json<{ error: { message: string } }>().error.message, /Idempotency-Key/);
    }
    assert.equal((await trigger('chat', 'k'.repeat(255), { message: 'longest key' })).status, 200);
  });

  test('a key whose run was lost (a restart, an instance gone) before it answered replays run_interrupted', async () => {
    const key = randomUUID();
    const body = Buffer.from(JSON.stringify({ n: 9 }));
    const now = services.clock.now();
    await execSql(services, 'INSERT INTO idempotency_keys (token_id, key, fingerprint, pipeline, run_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      main.token.id,
      key,
      fingerprintOf('counted', body),
      'counted',
      'run_00000000000000000000beef',
      now - 60_000,
      now + 86_000_000,
    ]);
    const before = runs();
    const reply = await trigger('counted', key, { n: 9 });
    assert.equal(reply.status, 503);
    assert.equal(reply.json<{ error: { code: string } }>().error.code, 'run_interrupted');
    assert.equal(reply.headers['idempotent-replayed'], 'true');
    assert.equal(runs(), before);
  });

  test('keys hold across a restart (they live in the database)', async () => {
    const key = randomUUID();
    const first = await trigger('counted', key, { n: 10 });
    assert.equal(first.status, 200);
    const before = runs();
    const store = services.config.databaseUrl ? { databaseUrl: services.config.databaseUrl } : { dataDir: services.config.dataDir };
    const again = await testServices({ ...store, clock: services.clock });
    const server = await startServer(again, { host: '127.0.0.1', port: 0, logStream: new LogCapture(), sseRetryMs: 50 });
    try {
      const headers = { Authorization: `Bearer ${main.value}`, 'Content-Type': 'application/json', 'Idempotency-Key': key };
      const retry = await request(`${server.url}/v1/trigger/counted`, { method: 'POST', headers, body: JSON.stringify({ n: 10 }) });
      assert.equal(retry.status, 200);
      assert.equal(retry.body, first.body);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      const sse = await request(`${server.url}/v1/trigger/counted`, { method: 'POST', headers: { ...headers, Accept: 'text/event-stream' }, body: JSON.stringify({ n: 10 }) });
      assert.equal(sse.status, 200);
      const names = sse.body.split('\n').filter((l) => l.startsWith('event: '));
      assert.equal(names[0], 'event: run.started');
      assert.equal(names.at(-1), 'event: run.completed');
      assert.ok(sse.body.includes('"output":"line 1\\nline 2\\nline 3\\n"'));
      assert.equal(runs(), before);
    } finally {
      await server.close();
    }
  });

  test('kept 24 h: after that the same key starts a new run', async () => {
    const key = randomUUID();
    const first = await trigger('chat', key, { message: 'first' });
    services.clock.advance(86_400_000 + 1);
    try {
      const later = await trigger('chat', key, { message: 'another day' });
      assert.equal(later.status, 200);
      assert.equal(later.headers['idempotent-replayed'], undefined);
      assert.notEqual(later.headers['mechamental-run-id'], first.headers['mechamental-run-id']);
      assert.equal(later.json<{ output: string }>().output, 'another day');
      // And pruning removes expired keys in batches.
      services.clock.advance(86_400_000 + 1);
      await services.runs.prune();
      assert.equal((await rowsOf(services, 'idempotency_keys')).some((row) => row.key === key), false);
    } finally {
      services.clock.advance(-2 * (86_400_000 + 1));
    }
  });
});

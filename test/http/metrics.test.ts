import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { request, startTestServer } from '../helpers/server';

const PROMTOOL = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;

const server = await startTestServer();
const trigger = await server.services.tokens.create({ app: 'default', name: 'metrics', expires: '1d' }, 'cli');

test("/metrics: the product's metrics as mechamental_*, Node's and the process's under their standard names", async () => {
  await request(`${server.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
  await request(`${server.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: 'Bearer mm_tok_nope', 'Content-Type': 'application/json' }, body: { message: 'hi' } });
  const reply = await request(`${server.url}/metrics`);
  assert.equal(reply.status, 200);
  assert.match(reply.headers['content-type'] ?? '', /^text\/plain/);
  for (const name of ['mechamental_http_requests_total', 'mechamental_auth_failures_total', 'mechamental_sse_streams_open', 'mechamental_pipeline_run_duration_seconds', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    assert.match(reply.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.doesNotMatch(reply.body, /^mechamental_(process|nodejs)_/m, 'standard metrics are not renamed');
  assert.match(reply.body, /mechamental_http_requests_total\{route="\/v1\/trigger\/:pipeline",method="POST",status="200"\} 1/);
  assert.match(reply.body, /mechamental_auth_failures_total\{reason="malformed"\} 1/);
  assert.ok(!reply.body.includes(trigger.value));
});

test('/metrics passes promtool check metrics', async (t: TestContext) => {
  if (!PROMTOOL) return t.skip('needs promtool: apt-get install prometheus');
  const reply = await request(`${server.url}/metrics`);
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: reply.body, encoding: 'utf8' });
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
});

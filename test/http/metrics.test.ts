import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { HotHistogram } from '../../src/http/metrics';
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

test('/metrics: request counts and run durations add up across scrapes (the hot path counts apart and adds when read)', async () => {
  const sample = (body: string, series: string): number => {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  const ok = 'mechamental_http_requests_total{route="/v1/trigger/:pipeline",method="POST",status="200"}';
  const runs = 'mechamental_pipeline_run_duration_seconds_count{kind="echo",outcome="completed"}';
  const all = 'mechamental_pipeline_run_duration_seconds_bucket{le="+Inf",kind="echo",outcome="completed"}';
  const before = (await request(`${server.url}/metrics`)).body;
  const again = (await request(`${server.url}/metrics`)).body;
  assert.equal(sample(again, ok), sample(before, ok), 'a scrape alone changes no count');
  for (let i = 0; i < 3; i++) {
    const reply = await request(`${server.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { message: 'hi' } });
    assert.equal(reply.status, 200);
  }
  const after = (await request(`${server.url}/metrics`)).body;
  assert.equal(sample(after, ok), sample(before, ok) + 3);
  assert.equal(sample(after, runs), sample(before, runs) + 3);
  assert.equal(sample(after, all), sample(after, runs), 'the +Inf bucket holds every run');
  const buckets = after.split('\n').filter((l) => l.startsWith('mechamental_pipeline_run_duration_seconds_bucket{') && l.includes('kind="echo",outcome="completed"')).map((l) => Number(l.split(' ').pop()));
  assert.equal(buckets.length, 12);
  assert.deepEqual([...buckets].sort((a, b) => a - b), buckets, 'buckets are cumulative');
});

test("run durations are shown exactly as prom-client's own Histogram shows the same observations", async () => {
  const bounds = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300];
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({ name: 'd_seconds', help: 'a "help" \\ text', labelNames: ['kind', 'outcome'], buckets: bounds, registers: [theirs] });
  const hot = new HotHistogram('d_seconds', 'a "help" \\ text', ['kind', 'outcome'], bounds, ours);
  const observations: Array<[string, string, number]> = [
    ['echo', 'completed', 0.0004],
    ['echo', 'completed', 0.001], // on a bound: counted in it (le)
    ['http', 'timeout', 400], // above every bound
    ['echo', 'completed', 0.0011],
    ['command', 'internal', 2],
    ['ec"ho', 'a\\b\nc', 0.3], // escaped like prom-client's
  ];
  for (const [kind, outcome, seconds] of observations) {
    histogram.labels(kind, outcome).observe(seconds);
    hot.observe(kind, outcome, seconds);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  hot.reset();
  histogram.reset();
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('/metrics passes promtool check metrics', async (t: TestContext) => {
  if (!PROMTOOL) return t.skip('needs promtool: apt-get install prometheus');
  const reply = await request(`${server.url}/metrics`);
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: reply.body, encoding: 'utf8' });
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);
});

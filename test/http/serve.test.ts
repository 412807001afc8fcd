import fs from 'node:fs';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config';
import { openServices } from '../../src/services';
import { runCliAsync } from '../helpers/cli';
import { tempDataDir } from '../helpers/data-dir';
import { request, SseClient, spawnServe } from '../helpers/server';

const exec = promisify(execFile);

/** Services on a data dir that a serve child also uses (another connection to the same file). */
function servicesOn(dataDir: string) {
  return openServices(loadConfig({ MM_DATA_DIR: dataDir }), { actor: 'cli' });
}

async function hasCurl(): Promise<boolean> {
  try {
    await exec('curl', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** The seed page's two examples, word for word, with only the base URL pointed at the test server. */
function seedExamples(base: string, token: string): string[][] {
  return [
    ['-X', 'POST', `${base}/v1/trigger/chat`, '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '-d', '{"message": "Hello, how can I reset my password?"}'],
    ['-N', '-X', 'POST', `${base}/v1/trigger/chat`, '-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', '-H', 'Accept: text/event-stream', '-d', '{"message": "Summarize the Q3 report"}'],
  ];
}

describe('mechamental serve', () => {
  test('first run: seeds app default/chat, prints the address and the first-token command; the seed curl examples work; SIGTERM ends streams with shutting_down and exits 0', async () => {
    const dataDir = tempDataDir();
    const serve = await spawnServe(dataDir);
    assert.match(serve.stdout(), /mechamental listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(serve.stdout(), /mechamental tokens create --app default --name "CI\/CD Pipeline" --expires 30d/);
    assert.ok(!serve.stdout().includes('mm_tok_'), 'never a token value');

    const created = await runCliAsync(['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d'], { dataDir });
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^mm_tok_/);

    const [plain, streaming] = seedExamples(serve.url, token);
    let jsonText: string;
    let sseText: string;
    if (await hasCurl()) {
      jsonText = (await exec('curl', ['-sS', '--fail-with-body', ...plain!])).stdout;
      sseText = (await exec('curl', ['-sS', '--fail-with-body', ...streaming!])).stdout;
    } else {
      const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
      jsonText = await (await fetch(`${serve.url}/v1/trigger/chat`, { method: 'POST', headers, body: '{"message": "Hello, how can I reset my password?"}' })).text();
      sseText = await (await fetch(`${serve.url}/v1/trigger/chat`, { method: 'POST', headers: { ...headers, Accept: 'text/event-stream' }, body: '{"message": "Summarize the Q3 report"}' })).text();
    }
    const json = JSON.parse(jsonText) as { run_id: string; pipeline: string; output: string };
    assert.match(json.run_id, /^run_/);
    assert.equal(json.pipeline, 'chat');
    assert.equal(json.output, 'Hello, how can I reset my password?');
    assert.match(sseText, /^retry: 3000\n\nid: 1\nevent: run\.started\n/);
    assert.match(sseText, /event: message\.delta\ndata: \{"text":"Summarize "\}/);
    assert.match(sseText, /event: run\.completed\ndata: \{"run_id":"run_[0-9a-f]+","output":"Summarize the Q3 report"\}\n\n$/);

    // A slow stream is open when SIGTERM arrives.
    const services = await servicesOn(dataDir);
    try {
      await services.pipelines.create('default', { slug: 'slow', kind: 'echo', config: { delay_ms: 1000 } }, 'cli');
    } finally {
      await services.close();
    }
    const stream = new SseClient(`${serve.url}/v1/trigger/slow`, token, { message: 'one two three four five six seven' });
    await stream.waitFor('message.delta');
    serve.child.kill('SIGTERM');
    await stream.done;
    const last = stream.events.at(-1)!;
    assert.equal(last.event, 'run.failed');
    assert.equal((JSON.parse(last.data!) as { error: { code: string } }).error.code, 'shutting_down');
    const exit = await serve.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr());
    assert.ok(!serve.stdout().includes(token), 'the token value is not in the log');
    assert.ok(!/authorization/i.test(serve.stdout()));
    // last_used_at was flushed at shutdown.
    const after = await servicesOn(dataDir);
    try {
      const [listed] = await after.tokens.list('default');
      assert.notEqual(listed!.last_used_at, null);
    } finally {
      await after.close();
    }
  });

  test('kill -9 right after an admin-API revoke was answered: still revoked after a restart', async () => {
    const dataDir = tempDataDir();
    const services = await servicesOn(dataDir);
    const admin = await services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
    const trigger = await services.tokens.create({ app: 'default', name: 'victim', expires: '1d' }, 'cli');
    await services.close();

    const first = await spawnServe(dataDir);
    const revoked = await request(`${first.url}/v1/apps/default/tokens/${trigger.token.id}/revoke`, { method: 'POST', headers: { Authorization: `Bearer ${admin.value}` } });
    assert.equal(revoked.status, 200);
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');

    const second = await spawnServe(dataDir);
    const reply = await request(`${second.url}/v1/trigger/chat`, { method: 'POST', headers: { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, body: { message: 'x' } });
    assert.equal(reply.status, 401);
    assert.match(reply.body, /"code":"token_revoked"/);
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  });

  test('port in use: one clear line on stderr, exit 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const dataDir = tempDataDir();
      const serve = await spawnServe(dataDir, ['--port', String(port)]);
      const exit = await serve.exited;
      assert.equal(exit.code, 1);
      const lines = serve.stderr().trim().split('\n');
      assert.equal(lines.length, 1, serve.stderr());
      assert.match(lines[0]!, new RegExp(`^mechamental: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
      assert.ok(!fs.existsSync(dataDir), 'nothing was created or seeded for a server that could not start');
    } finally {
      await blocker.close();
    }
  });

  test('MM_HOST and MM_PORT are honoured', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const serve = await spawnServe(tempDataDir(), [], { MM_HOST: '127.0.0.1', MM_PORT: String(port) });
    assert.equal(serve.url, `http://127.0.0.1:${port}`);
    assert.equal((await request(`${serve.url}/healthz`)).status, 200);
    serve.child.kill('SIGINT');
    assert.equal((await serve.exited).code, 0);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BUILD_TIMEOUT_MS, ensureBinary, runBinary, runBinaryAsync, sandbox, startServer, type RunningServer, type Sandbox } from './helpers/binary';

const SEED_BODY = JSON.stringify({ message: 'Hello, how can I reset my password?' });

interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: unknown;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split(/\n\n/)
    // Comments (`: ping`) and the `retry:` that opens every stream are not events.
    .map((block) => block.split('\n').filter((line) => line !== '' && !line.startsWith(':') && !line.startsWith('retry:')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
      const data = field('data');
      return { id: field('id'), event: field('event'), data: data === undefined ? undefined : JSON.parse(data) };
    });
}

describe('mechamental serve (the built executable) and the seed page examples', () => {
  let box: Sandbox;
  let server: RunningServer;
  let value: string;

  before(
    async () => {
      ensureBinary();
      box = sandbox();
      server = await startServer(box);
      const created = runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'CI/CD Pipeline', '--expires', '30d', '--json']);
      assert.equal(created.code, 0, created.stderr);
      value = (JSON.parse(created.stdout) as { value: string }).value;
    },
    { timeout: BUILD_TIMEOUT_MS },
  );
  after(() => server?.stop());

  test('first run serves /healthz, /readyz and /metrics', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const metrics = await fetch(`${server.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /# TYPE /);
  });

  test('the seed JSON trigger: POST /v1/trigger/chat with Authorization: Bearer', async () => {
    const response = await fetch(`${server.url}/v1/trigger/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' },
      body: SEED_BODY,
    });
    const body = (await response.json()) as { run_id: string; pipeline: string; output: unknown };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.match(body.run_id, /^run_/);
    assert.equal(body.pipeline, 'chat');
    assert.equal(body.output, 'Hello, how can I reset my password?');
    assert.ok(response.headers.get('mechamental-token-expiration'), 'Mechamental-Token-Expiration header');
  });

  test('the seed SSE trigger: Accept: text/event-stream', async () => {
    const response = await fetch(`${server.url}/v1/trigger/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: SEED_BODY,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await response.text();
    assert.match(text, /^retry: 3000\n\n/);
    assert.ok(response.headers.get('mechamental-run-id'), 'Mechamental-Run-Id header');
    const events = parseSse(text);
    assert.equal(events[0]?.event, 'run.started');
    assert.equal(events.at(-1)?.event, 'run.completed');
    assert.deepEqual(
      events.map((e) => e.id),
      events.map((_, i) => String(i + 1)),
    );
    const deltas = events.filter((e) => e.event === 'message.delta').map((e) => (e.data as { text: string }).text);
    assert.ok(deltas.length > 1, 'streamed in pieces');
    assert.equal(deltas.join(''), 'Hello, how can I reset my password?');
  });

  test('no token, and a revoked one, get 401 with WWW-Authenticate', async () => {
    const anonymous = await fetch(`${server.url}/v1/trigger/chat`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: SEED_BODY });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm="mechamental"/);
    const other = runBinary(box, ['tokens', 'create', '--app', 'default', '--name', 'to revoke', '--expires', '1d', '--json']);
    const { token, value: otherValue } = JSON.parse(other.stdout) as { token: { id: string }; value: string };
    assert.equal(runBinary(box, ['tokens', 'revoke', token.id]).code, 0);
    const revoked = await fetch(`${server.url}/v1/trigger/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${otherValue}`, 'Content-Type': 'application/json' },
      body: SEED_BODY,
    });
    assert.equal(revoked.status, 401);
    assert.equal(((await revoked.json()) as { error: { code: string } }).error.code, 'token_revoked');
  });

  test('healthcheck against the running server exits 0', async () => {
    const result = await runBinaryAsync(box, ['healthcheck', '--port', String(server.port)]);
    assert.equal(result.code, 0, result.stderr);
  });

  test('SIGTERM stops it gracefully (exit 0)', async () => {
    const own = await startServer(sandbox());
    const exit = new Promise<number | null>((resolve) => own.child.on('exit', (code) => resolve(code)));
    own.child.kill('SIGTERM');
    assert.equal(await exit, 0, own.output());
  });
});

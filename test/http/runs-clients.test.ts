import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import type { EventSourceFetchInit } from 'eventsource';
import { createParser } from 'eventsource-parser';
import { startTestServer } from '../helpers/server';

// The client code of docs/runs.md, run against the server: what the README tells integrators to
// write must work, also when the connection is cut mid-stream.
const t = await startTestServer({ server: { sseRetryMs: 50 } });
const { services } = t;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-clients-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
const counter = path.join(scratch, 'count.txt');
fs.writeFileSync(counter, '');
await services.pipelines.create('default', { slug: 'counted', kind: 'command', config: { argv: ['sh', '-c', 'echo run >> "$0"; for i in 1 2 3 4 5; do echo "line $i"; sleep 0.08; done', counter] } }, 'cli');
const token = (await services.tokens.create({ app: 'default', name: 'client', expires: '30d' }, 'cli')).value;
const runs = () => fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length;

/** fetch, except that the first `cuts` streamed answers end right after their first delta (a dropped connection). */
function cuttingFetch(cuts: number): typeof fetch {
  let left = cuts;
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const response = await fetch(input, init);
    if (left <= 0 || response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/event-stream')) return response;
    left--;
    const reader = response.body!.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        if (Buffer.from(value).toString('utf8').includes('message.delta')) {
          controller.close();
          await reader.cancel();
        }
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }) as typeof fetch;
}

// docs/runs.md, "With fetch and eventsource-parser", with `fetch` as a parameter.
async function run(base: string, token: string, pipeline: string, input: object, onDelta: (text: string) => void, fetch: typeof globalThis.fetch) {
  const key = randomUUID();
  let runId: string | null | undefined;
  let lastId = 0;
  let result: { output: unknown } | { error: unknown } | undefined;
  const parser = createParser({
    onEvent(event) {
      lastId = Number(event.id);
      const data = JSON.parse(event.data) as { text: string; output: unknown; error: unknown };
      if (event.event === 'message.delta') onDelta(data.text);
      else if (event.event === 'run.completed') result = { output: data.output };
      else if (event.event === 'run.failed') result = { error: data.error };
    },
  });
  for (let attempt = 0; result === undefined; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 25 * 2 ** attempt)));
    const auth = { Authorization: `Bearer ${token}` };
    let response: Response;
    try {
      response =
        runId === undefined
          ? await fetch(`${base}/v1/trigger/${pipeline}`, {
              method: 'POST',
              headers: { ...auth, 'Content-Type': 'application/json', Accept: 'text/event-stream', 'Idempotency-Key': key, 'Mechamental-Run-Mode': 'background' },
              body: JSON.stringify(input),
            })
          : await fetch(`${base}/v1/runs/${runId}/events`, { headers: { ...auth, 'Last-Event-ID': String(lastId) } });
    } catch {
      continue;
    }
    if (response.status === 204) break;
    if (response.status === 409 || response.status === 429 || response.status >= 500) continue;
    if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
    runId ??= response.headers.get('mechamental-run-id');
    parser.reset();
    try {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
    } catch {
      // cut mid-stream: resume from lastId
    }
  }
  return result;
}

describe('the clients of docs/runs.md', () => {
  test('fetch + eventsource-parser: cut twice mid-stream, it gets every delta once and the output; one run', async () => {
    const before = runs();
    const deltas: string[] = [];
    const result = await run(t.url, token, 'counted', { n: 1 }, (text) => deltas.push(text), cuttingFetch(2));
    assert.deepEqual(result, { output: 'line 1\nline 2\nline 3\nline 4\nline 5\n' });
    assert.deepEqual(deltas, ['line 1\n', 'line 2\n', 'line 3\n', 'line 4\n', 'line 5\n']);
    assert.equal(runs() - before, 1);
  });

  test('the eventsource package with a POSTing fetch: the deltas, the output, one run', async () => {
    const before = runs();
    const deltas: string[] = [];
    const cut = cuttingFetch(1);
    let runId: string | undefined;
    // docs/runs.md, "With the eventsource package".
    const done = new Promise<unknown>((resolve, reject) => {
      const source = new EventSource(`${t.url}/v1/trigger/counted`, {
        fetch: async (url: string | URL, init: EventSourceFetchInit) => {
          const response = await cut(url, {
            ...init,
            method: 'POST',
            headers: {
              ...init.headers,
              Authorization: `Bearer ${token}`,
              'Content-Type': 'application/json',
              'Mechamental-Run-Mode': 'background',
              ...(runId ? { 'Mechamental-Run-Id': runId } : {}),
            },
            body: JSON.stringify({ n: 2 }),
          } as RequestInit);
          runId ??= response.headers.get('mechamental-run-id') ?? undefined;
          return response;
        },
      });
      source.addEventListener('message.delta', (event: MessageEvent) => deltas.push((JSON.parse(String(event.data)) as { text: string }).text));
      source.addEventListener('run.completed', (event: MessageEvent) => {
        resolve((JSON.parse(String(event.data)) as { output: unknown }).output);
        source.close();
      });
      source.addEventListener('run.failed', (event: MessageEvent) => {
        reject(new Error(String(event.data)));
        source.close();
      });
    });
    assert.equal(await done, 'line 1\nline 2\nline 3\nline 4\nline 5\n');
    assert.deepEqual(deltas, ['line 1\n', 'line 2\n', 'line 3\n', 'line 4\n', 'line 5\n']);
    assert.equal(runs() - before, 1);
  });
});

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, PermissionDeniedError, RateLimitError, UnprocessableEntityError } from 'openai';
import { localServer, readText } from '../pipelines/helpers';
import { expireToken } from '../helpers/rows';
import { eventually, request, startTestServer, type TestServer } from '../helpers/server';
import { testServices } from '../helpers/services';

/**
 * The OpenAI-compatible front door, driven by the official `openai` SDK as the client (and by raw
 * requests where the SDK hides what is checked: headers, the stream's last lines).
 */
const t: TestServer = await startTestServer();

/** Every value issued here: none may appear in an answer or a log line. */
const SECRETS: string[] = [];

async function issue(name: string, controls: { pipelines?: string[]; allowedIps?: string[]; rateLimit?: number } = {}) {
  const issued = await t.services.tokens.create({ app: 'default', name, expires: '30d', ...controls }, 'cli');
  SECRETS.push(issued.value);
  return issued;
}

function client(apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${t.url}/v1`, apiKey, maxRetries: 0 });
}

const hello = [
  { role: 'system' as const, content: 'be brief' },
  { role: 'user' as const, content: 'first question' },
  { role: 'assistant' as const, content: 'an answer' },
  { role: 'user' as const, content: 'hello there, world' },
];

function noSecrets(text: string): void {
  for (const value of SECRETS) assert.ok(!text.includes(value), 'no token value in an answer or a log');
}

/** The SDK's error of `work`, checked to be `kind` with our code and message. */
async function sdkError<E extends APIError>(work: Promise<unknown>, kind: new (...args: never[]) => E, code: string, message: RegExp): Promise<E> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${(error as Error).constructor.name}: ${(error as Error).message}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    noSecrets(error.message);
    return error;
  }
  assert.fail(`expected ${kind.name}`);
}

/** What the fake upstream (an OpenAI-compatible model server) was sent. */
const upstreamBodies: Array<{ model: string; messages: unknown[]; stream: boolean }> = [];
const upstream = await localServer(async (req, res) => {
  if (req.url === '/json') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ answer: 42, said: JSON.parse(await readText(req)).message }));
  }
  upstreamBodies.push(JSON.parse(await readText(req)) as (typeof upstreamBodies)[number]);
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  for (const piece of ['Your Q3 ', 'revenue ', 'grew.']) res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: piece } }] })}\n\n`);
  res.end('data: [DONE]\n\n');
});

before(async () => {
  await t.services.pipelines.create('default', { slug: 'model', kind: 'openai', config: { base_url: `${upstream.url}/v1`, model: 'llama3.2', system_prompt: 'Be brief.' } }, 'cli');
  await t.services.pipelines.create('default', { slug: 'json', kind: 'http', config: { url: `${upstream.url}/json` } }, 'cli');
  await t.services.pipelines.create('default', { slug: 'summarise', kind: 'echo' }, 'cli');
  await t.services.pipelines.create('default', { slug: 'slow', kind: 'echo', config: { delay_ms: 150 } }, 'cli');
  await t.services.pipelines.create('default', { slug: 'cat', kind: 'command', config: { argv: ['cat'] } }, 'cli');
});

describe('GET /v1/models', () => {
  test('lists the pipelines of the token’s app, within its scope; retrieve one; an unknown one is NotFoundError', async () => {
    const open = await issue('models-open');
    const listed = await client(open.value).models.list();
    const ids = listed.data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['cat', 'chat', 'json', 'model', 'slow', 'summarise']);
    for (const model of listed.data) {
      assert.equal(model.object, 'model');
      assert.equal(model.owned_by, 'default');
      assert.ok(Number.isInteger(model.created) && Math.abs(model.created - Date.now() / 1000) < 3600, 'created is unix seconds');
    }
    const scoped = await issue('models-scoped', { pipelines: ['summarise'] });
    assert.deepEqual((await client(scoped.value).models.list()).data.map((m) => m.id), ['summarise']);
    assert.equal((await client(scoped.value).models.retrieve('summarise')).id, 'summarise');
    await sdkError(client(scoped.value).models.retrieve('chat'), NotFoundError, 'pipeline_not_found', /GET \/v1\/models lists them/);
    await sdkError(client('mm_tok_notavalidtoken').models.list(), AuthenticationError, 'invalid_token', /./);
    const raw = await request(`${t.url}/v1/models`, { method: 'GET' });
    assert.equal(raw.status, 401);
    assert.equal(raw.headers['www-authenticate'], 'Bearer realm="mechamental"');
    assert.deepEqual(Object.keys(raw.json<{ error: object }>().error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(raw.json<{ error: { type: string } }>().error.type, 'authentication_error');
  });
});

describe('POST /v1/chat/completions', () => {
  test('a completion: the pipeline’s output as the assistant’s message, the run id as its id', async () => {
    const { value } = await issue('complete');
    const { data, response } = await client(value).chat.completions.create({ model: 'chat', messages: hello, temperature: 0.2, max_tokens: 50 }).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'chat');
    assert.match(data.id, /^run_/);
    assert.equal(response.headers.get('mechamental-run-id'), data.id);
    assert.ok(response.headers.get('mechamental-token-expiration'));
    assert.equal(data.choices.length, 1);
    assert.deepEqual(data.choices[0]!.message.role, 'assistant');
    assert.equal(data.choices[0]!.message.content, 'hello there, world');
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(data.usage, { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    // The run is a run like any other: readable at /v1/runs/:id with the same token.
    const run = await request(`${t.url}/v1/runs/${data.id}`, { method: 'GET', headers: { Authorization: `Bearer ${value}` } });
    assert.equal(run.status, 200);
    assert.equal(run.json<{ status: string; output: string }>().output, 'hello there, world');
  });

  test('a streamed completion: the deltas add up to the output; a role chunk first, finish_reason last, then [DONE]', async () => {
    const { value } = await issue('stream');
    const { data: stream, response } = await client(value).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'one two three four' }], stream: true }).withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const runId = response.headers.get('mechamental-run-id');
    let text = '';
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, runId);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'one two three four');
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    // The words after the first come live (150 ms apart): a chunk each.
    assert.deepEqual(chunks.slice(-4, -1).map((chunk) => chunk.choices[0]!.delta.content), ['two ', 'three ', 'four']);
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
    const raw = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: { model: 'chat', messages: hello, stream: true } });
    assert.equal(raw.status, 200);
    assert.ok(raw.body.endsWith('data: [DONE]\n\n'), raw.body);
    // A run that answered at once is known whole: its text in one chunk with the role, then the last chunk.
    const lines = raw.body.split('\n\n').filter(Boolean);
    assert.equal(lines.length, 3, raw.body);
    const [first, last] = lines.slice(0, 2).map((line) => JSON.parse(line.replace(/^data: /, '')) as { choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> });
    assert.deepEqual(first!.choices[0]!.delta, { role: 'assistant', content: 'hello there, world' });
    assert.equal(first!.choices[0]!.finish_reason, null);
    assert.deepEqual(last!.choices[0]!.delta, {});
    assert.equal(last!.choices[0]!.finish_reason, 'stop');
  });

  test('a pipeline that answers other than word by word: its output’s text (command)', async () => {
    const { value } = await issue('command');
    const done = await client(value).chat.completions.create({ model: 'cat', messages: [{ role: 'user', content: 'hi' }] });
    const content = done.choices[0]!.message.content!;
    assert.match(content, /"message":"hi"/);
    let streamed = '';
    for await (const chunk of await client(value).chat.completions.create({ model: 'cat', messages: [{ role: 'user', content: 'hi' }], stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(streamed, content);
  });

  test('an openai pipeline relays its upstream’s deltas; the messages reach it once each (system ones dropped, as on the trigger)', async () => {
    const { value } = await issue('relay');
    let streamed = '';
    const pieces: string[] = [];
    for await (const chunk of await client(value).chat.completions.create({ model: 'model', messages: hello, stream: true })) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) pieces.push(piece);
      streamed += piece ?? '';
    }
    assert.deepEqual(pieces, ['Your Q3 ', 'revenue ', 'grew.']);
    assert.equal(streamed, 'Your Q3 revenue grew.');
    assert.deepEqual(upstreamBodies.at(-1)!.messages, [{ role: 'system', content: 'Be brief.' }, ...hello.slice(1)]);
    assert.equal(upstreamBodies.at(-1)!.model, 'llama3.2');
    const done = await client(value).chat.completions.create({ model: 'model', messages: hello });
    assert.equal(done.choices[0]!.message.content, 'Your Q3 revenue grew.');
  });

  test('a non-string output becomes its JSON text (http), streamed or not', async () => {
    const { value } = await issue('json-output');
    const done = await client(value).chat.completions.create({ model: 'json', messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(JSON.parse(done.choices[0]!.message.content!), { answer: 42, said: 'hi' });
    let streamed = '';
    for await (const chunk of await client(value).chat.completions.create({ model: 'json', messages: [{ role: 'user', content: 'hi' }], stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(streamed, done.choices[0]!.message.content);
  });

  test('Idempotency-Key: a retry gets the same completion, replayed', async () => {
    const { value } = await issue('idempotent');
    const sdk = client(value);
    const first = await sdk.chat.completions.create({ model: 'chat', messages: hello }, { headers: { 'Idempotency-Key': 'k-1' } }).withResponse();
    const again = await sdk.chat.completions.create({ model: 'chat', messages: hello }, { headers: { 'Idempotency-Key': 'k-1' } }).withResponse();
    assert.equal(again.data.id, first.data.id);
    assert.equal(again.data.choices[0]!.message.content, 'hello there, world');
    assert.equal(again.response.headers.get('idempotent-replayed'), 'true');
    let streamed = '';
    for await (const chunk of await sdk.chat.completions.create({ model: 'chat', messages: hello, stream: true }, { headers: { 'Idempotency-Key': 'k-2' } })) streamed += chunk.choices[0]?.delta.content ?? '';
    let replayed = '';
    for await (const chunk of await sdk.chat.completions.create({ model: 'chat', messages: hello, stream: true }, { headers: { 'Idempotency-Key': 'k-2' } })) replayed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(replayed, streamed);
    // Byte for byte: a stream answered at once is written whole; its replay follows the stored run.
    const raw = () => request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'k-3' }, body: { model: 'chat', messages: hello, stream: true } });
    const [whole, followed] = [await raw(), await raw()];
    assert.equal(followed.headers['idempotent-replayed'], 'true');
    assert.equal(whole.headers['content-length'], String(Buffer.byteLength(whole.body)));
    assert.equal(followed.body, whole.body);
    await sdkError(sdk.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'other' }] }, { headers: { 'Idempotency-Key': 'k-1' } }), APIError, 'idempotency_key_mismatch', /another body/);
  });
});

describe('refusals, each its own SDK error class with our code and message', () => {
  test('no token, a bad one, a revoked one, an expired one: 401 with the RFC 6750 challenge', async () => {
    const none = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: { model: 'chat', messages: hello } });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="mechamental"');
    assert.equal(none.json<{ error: { code: string; type: string } }>().error.code, 'unauthorized');
    assert.equal(none.json<{ error: { code: string; type: string } }>().error.type, 'authentication_error');
    await sdkError(client('mm_tok_thisisnotarealtoken').chat.completions.create({ model: 'chat', messages: hello }), AuthenticationError, 'invalid_token', /./);
    const revoked = await issue('revoked');
    await t.services.tokens.revoke(revoked.token.id, 'cli');
    await sdkError(client(revoked.value).chat.completions.create({ model: 'chat', messages: hello }), AuthenticationError, 'token_revoked', /revoked/);
    const expired = await issue('expired');
    await expireToken(t.services, expired.token.id);
    await sdkError(client(expired.value).chat.completions.create({ model: 'chat', messages: hello }), AuthenticationError, 'token_expired', /expired/);
    const raw = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${expired.value}`, 'Content-Type': 'application/json' }, body: { model: 'chat', messages: hello } });
    assert.match(String(raw.headers['www-authenticate']), /^Bearer realm="mechamental", error="invalid_token", error_description="/);
    noSecrets(raw.body);
  });

  test('a wrong model, a scope, an IP allow-list, an admin token, a rate limit', async () => {
    const open = await issue('wrong-model');
    await sdkError(client(open.value).chat.completions.create({ model: 'gpt-4o', messages: hello }), NotFoundError, 'pipeline_not_found', /model "gpt-4o" is not a pipeline of app "default"/);
    const scoped = await issue('scoped', { pipelines: ['summarise'] });
    assert.equal((await client(scoped.value).chat.completions.create({ model: 'summarise', messages: hello })).choices[0]!.message.content, 'hello there, world');
    const scope = await sdkError(client(scoped.value).chat.completions.create({ model: 'chat', messages: hello }), PermissionDeniedError, 'insufficient_scope', /"chat" is outside its scope/);
    assert.equal(scope.headers?.get('www-authenticate'), 'Bearer realm="mechamental", error="insufficient_scope", scope="pipeline:chat"');
    const elsewhere = await issue('elsewhere', { allowedIps: ['203.0.113.7/32'] });
    await sdkError(client(elsewhere.value).chat.completions.create({ model: 'chat', messages: hello }), PermissionDeniedError, 'ip_not_allowed', /may not be used from 127\.0\.0\.1/);
    await sdkError(client(elsewhere.value).models.list(), PermissionDeniedError, 'ip_not_allowed', /allowed_ips/);
    const admin = await t.services.tokens.createAdmin({ name: 'admin', expires: '1d' }, 'cli');
    SECRETS.push(admin.value);
    await sdkError(client(admin.value).chat.completions.create({ model: 'chat', messages: hello }), PermissionDeniedError, 'insufficient_scope', /admin token/);
    const limited = await issue('limited', { rateLimit: 1 });
    await client(limited.value).chat.completions.create({ model: 'chat', messages: hello });
    const limit = await sdkError(client(limited.value).chat.completions.create({ model: 'chat', messages: hello }), RateLimitError, 'rate_limited', /limited to 1 requests per minute/);
    assert.match(limit.headers?.get('retry-after') ?? '', /^\d+$/);
  });

  test('a model made, changed and removed elsewhere (another connection) is seen by the next request', async () => {
    const other = await testServices(t.services.config.databaseUrl ? { databaseUrl: t.services.config.databaseUrl } : { dataDir: t.services.config.dataDir });
    const { value } = await issue('elsewhere-models');
    const ask = () => client(value).chat.completions.create({ model: 'later', messages: hello });
    await sdkError(ask(), NotFoundError, 'pipeline_not_found', /model "later" is not a pipeline/);
    await other.pipelines.create('default', { slug: 'later', kind: 'echo' }, 'cli');
    assert.equal((await ask()).choices[0]!.message.content, 'hello there, world');
    await other.pipelines.update('default', 'later', { kind: 'command', config: { argv: ['printf', 'changed'] } }, 'cli');
    assert.equal((await ask()).choices[0]!.message.content, 'changed');
    await other.pipelines.remove('default', 'later', 'cli');
    await sdkError(ask(), NotFoundError, 'pipeline_not_found', /model "later" is not a pipeline/);
  });

  test('bad bodies and unsupported features: 400 saying what and why (BadRequestError)', async () => {
    const { value } = await issue('bad-bodies');
    const sdk = client(value);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'chat', messages: hello, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }, /tools and function calling are not supported/],
      [{ model: 'chat', messages: hello, tool_choice: 'required' }, /tool_choice "required" is not supported/],
      [{ model: 'chat', messages: hello, n: 2 }, /n=2 is not supported/],
      [{ model: 'chat', messages: hello, response_format: { type: 'json_object' } }, /response_format "json_object" is not supported/],
      [{ model: 'chat', messages: hello, logprobs: true }, /logprobs are not supported/],
      [{ model: 'chat', messages: hello, modalities: ['text', 'audio'] }, /audio output is not supported/],
      [{ model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, /"image_url" parts are not supported/],
      [{ model: 'chat', messages: [] }, /messages: must hold at least one message/],
      [{ messages: hello }, /400 model: /],
      [{ model: 'chat', messages: [{ role: 'robot', content: 'x' }] }, /messages\[0\]\.role/],
      // Shapes the plain request's quick check passes on to the schema, refused as before.
      [{ model: '', messages: hello }, /model: must name a pipeline/],
      [{ model: 'chat', messages: ['hello'] }, /messages\[0\]: /],
      [{ model: 'chat', messages: [{ role: 'user', content: 42 }] }, /messages\[0\]\.content/],
      [{ model: 'chat', messages: [{ role: 'user', content: 'x', name: 7 }] }, /messages\[0\]\.name/],
    ];
    for (const [body, message] of cases) {
      await sdkError(sdk.chat.completions.create(body as never), BadRequestError, 'invalid_request', message);
    }
    const notJson = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: '{"model":' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json<{ error: { code: string; type: string } }>().error.code, 'invalid_json');
    assert.equal(notJson.json<{ error: { code: string; type: string } }>().error.type, 'invalid_request_error');
    const text = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'text/plain' }, body: 'hello' });
    assert.equal(text.status, 415);
    assert.equal(text.json<{ error: { code: string } }>().error.code, 'unsupported_media_type');
    const big = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' }, body: { model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(2_000_000) }] } });
    assert.equal(big.status, 413);
    const embeddings = await sdkError(sdk.embeddings.create({ model: 'chat', input: 'hello' }), BadRequestError, 'invalid_request', /embeddings are not supported: .*POST \/v1\/chat\/completions and GET \/v1\/models/);
    assert.equal((embeddings.error as { type?: string }).type, 'invalid_request_error');
    await sdkError(sdk.images.generate({ prompt: 'a cat' }), BadRequestError, 'invalid_request', /images are not supported/);
    await sdkError(sdk.responses.create({ model: 'chat', input: 'hi' }), BadRequestError, 'invalid_request', /the Responses API is not supported/);
    const get = await request(`${t.url}/v1/chat/completions`, { method: 'GET', headers: { Authorization: `Bearer ${value}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST, OPTIONS');
  });

  test('a run that fails: its code and message in OpenAI’s shape, with the run id (JSON and streamed)', async () => {
    const { value } = await issue('failing');
    // No user message: the echo pipeline has no "message" to echo (422 validation_failed, as on the trigger).
    const failed = await sdkError(client(value).chat.completions.create({ model: 'chat', messages: [{ role: 'assistant', content: 'hi' }] }), UnprocessableEntityError, 'validation_failed', /needs a "message" string/);
    assert.match((failed.error as { run_id?: string }).run_id ?? '', /^run_/);
    const stream = await client(value).chat.completions.create({ model: 'chat', messages: [{ role: 'assistant', content: 'hi' }], stream: true });
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream);
      })(),
      (error: unknown) => error instanceof APIError && error.code === 'validation_failed',
    );
  });

  test('runs at once per token are counted across the trigger and this door', async () => {
    const one = await startTestServer({ env: { MM_MAX_RUNS_PER_TOKEN: '1' } });
    await one.services.pipelines.create('default', { slug: 'slow', kind: 'echo', config: { delay_ms: 100 } }, 'cli');
    const issued = await one.services.tokens.create({ app: 'default', name: 'one-at-a-time', expires: '1d' }, 'cli');
    SECRETS.push(issued.value);
    // A streamed trigger: its headers come once its run holds the token's one slot.
    const running = await fetch(`${one.url}/v1/trigger/slow`, { method: 'POST', headers: { Authorization: `Bearer ${issued.value}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' }, body: JSON.stringify({ message: 'a b c d e f' }) });
    assert.equal(running.status, 200);
    const sdk = new OpenAI({ baseURL: `${one.url}/v1`, apiKey: issued.value, maxRetries: 0 });
    const busy = await sdkError(sdk.chat.completions.create({ model: 'slow', messages: hello }), RateLimitError, 'too_many_runs', /already has 1 runs in progress/);
    assert.equal(busy.headers?.get('retry-after'), '1');
    assert.match(await running.text(), /run\.completed/);
    assert.equal((await sdk.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'now' }] })).choices[0]!.message.content, 'now');
  });

  test('a revoke ends an open stream with an error chunk, then [DONE]', async () => {
    const { value, token } = await issue('revoked-mid-stream');
    const { data: stream, response } = await client(value).chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p q r s t u v w x y z' }], stream: true }).withResponse();
    const runId = response.headers.get('mechamental-run-id')!;
    let text = '';
    let revoked = false;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          if (!revoked && text.length > 0) {
            revoked = true;
            await t.services.tokens.revoke(token.id, 'cli');
          }
        }
      })(),
      (error: unknown) => {
        assert.ok(error instanceof APIError, String(error));
        assert.equal(error.code, 'token_revoked');
        return true;
      },
    );
    assert.ok(text.length < 'a b c d e f g h i j k l m n o p q r s t u v w x y z'.length, 'the stream ended before the run did');
    const run = await eventually(async () => {
      const reply = await request(`${t.url}/v1/runs/${runId}`, { method: 'GET', headers: { Authorization: `Bearer ${value}` } });
      return reply.status === 401 ? reply : undefined;
    });
    assert.equal(run.status, 401);
  });

  test('the raw stream of a revoke: the error chunk in OpenAI’s shape, then data: [DONE]', async () => {
    const { value, token } = await issue('revoked-raw');
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${value}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }], stream: true }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let raw = '';
    while (!raw.includes('"content":"a "')) raw += decoder.decode((await reader.read()).value);
    await t.services.tokens.revoke(token.id, 'cli');
    for (;;) {
      const { value: bytes, done } = await reader.read();
      if (done) break;
      raw += decoder.decode(bytes);
    }
    const lines = raw.trim().split('\n\n');
    assert.equal(lines.at(-1), 'data: [DONE]');
    const error = JSON.parse(lines.at(-2)!.slice('data: '.length)) as { error: { code: string; type: string; message: string } };
    assert.equal(error.error.code, 'token_revoked');
    assert.equal(error.error.type, 'authentication_error');
    noSecrets(raw);
  });

  test('no token value in any log line', () => {
    noSecrets(t.logs.text);
  });
});

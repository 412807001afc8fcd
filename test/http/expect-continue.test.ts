import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { startTestServer } from '../helpers/server';

const t = await startTestServer({ env: { MM_MAX_BODY: '1024' } });
const trigger = await t.services.tokens.create({ app: 'default', name: 'continue', expires: '1d' }, 'cli');
const admin = await t.services.tokens.createAdmin({ name: 'ops', expires: '1d' }, 'cli');
const port = new URL(t.url).port;

/**
 * Sends the request line and headers with `Expect: 100-continue`, then waits: answers what the server
 * wrote before any body was sent; if that is a 100, sends `body` and answers everything up to the end
 * of the final answer.
 */
function expectContinue(path: string, headers: Record<string, string>, body: string): Promise<{ first: string; final: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let text = '';
    let first = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no final answer within 10 s; the server wrote: ${JSON.stringify(first || text)}`));
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!first && text.includes('\r\n\r\n')) {
        first = text;
        if (/^HTTP\/1\.1 100 /.test(text)) {
          text = '';
          socket.write(body);
        }
      }
      const headerEnd = text.indexOf('\r\n\r\n');
      if (!/^HTTP\/1\.1 100 /.test(text) && headerEnd !== -1) {
        const length = Number(/content-length: (\d+)/i.exec(text.slice(0, headerEnd))?.[1] ?? 0);
        if (Buffer.byteLength(text.slice(headerEnd + 4)) >= length) {
          socket.end();
          resolve({ first, final: text });
        }
      }
    });
    const lines = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Expect: 100-continue', `Content-Length: ${headers['Content-Length'] ?? Buffer.byteLength(body)}`, 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) if (name !== 'Content-Length') lines.push(`${name}: ${value}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const BODY = JSON.stringify({ message: 'hello' });

describe('Expect: 100-continue', () => {
  const refused: Array<[string, string, Record<string, string>, number]> = [
    ['no token', '/v1/trigger/chat', { 'Content-Type': 'application/json' }, 401],
    ['a malformed token', '/v1/trigger/chat', { Authorization: 'Bearer mm_tok_bad', 'Content-Type': 'application/json' }, 401],
    ['an admin token on the trigger', '/v1/trigger/chat', { Authorization: `Bearer ${admin.value}`, 'Content-Type': 'application/json' }, 403],
    ['an unknown pipeline', '/v1/trigger/nope', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, 404],
    ['a Content-Type that is not JSON', '/v1/trigger/chat', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'text/plain' }, 415],
    ['a declared length over the limit', '/v1/trigger/chat', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json', 'Content-Length': '5000' }, 413],
    ['the admin API without a token', '/v1/apps', { 'Content-Type': 'application/json' }, 401],
    ['the admin API with a trigger token', '/v1/apps', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, 403],
    ['the admin API with a body too large', '/v1/apps', { Authorization: `Bearer ${admin.value}`, 'Content-Type': 'application/json', 'Content-Length': '5000' }, 413],
    ['the admin API with a body that is not JSON', '/v1/apps', { Authorization: `Bearer ${admin.value}`, 'Content-Type': 'text/plain' }, 415],
  ];
  for (const [name, path, headers, status] of refused) {
    test(`${name}: the final answer (${status}) at once, never a 100`, async () => {
      const { first } = await expectContinue(path, headers, BODY);
      assert.match(first, new RegExp(`^HTTP/1\\.1 ${status} `), first);
      assert.ok(!first.includes('100 Continue'));
      assert.match(first, /\{"error":\{"code":/);
    });
  }

  test('an accepted trigger gets 100 Continue, then the run', async () => {
    const { first, final } = await expectContinue('/v1/trigger/chat', { Authorization: `Bearer ${trigger.value}`, 'Content-Type': 'application/json' }, BODY);
    assert.match(first, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.match(final, /^HTTP\/1\.1 200 /);
    assert.match(final, /"output":"hello"/);
  });

  test('an accepted admin request gets 100 Continue, then its answer', async () => {
    const { first, final } = await expectContinue('/v1/apps', { Authorization: `Bearer ${admin.value}`, 'Content-Type': 'application/json' }, JSON.stringify({ slug: 'continued', name: 'Continued' }));
    assert.match(first, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.match(final, /^HTTP\/1\.1 201 /);
  });
});

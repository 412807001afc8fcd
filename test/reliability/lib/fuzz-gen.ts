// The fuzzer's request generator: raw HTTP/1.1 bytes from a seeded PRNG, so that any request can
// be replayed from (seed, index). It mixes well-formed requests to every route (with valid, revoked,
// admin, malformed and missing tokens) with broken framing, wrong content types, truncated, huge
// and invalid-UTF-8 bodies, odd methods and paths, and slow clients.
//
// Safety: pipelines the fuzzer may create or update only run `cat`, `true` or `sleep 0.2`, or talk
// to 127.0.0.1; nothing leaves loopback.

export interface FuzzContext {
  port: number;
  /** An active trigger token of app default (the fuzzer never revokes it: it has no id in the vocabulary). */
  trigger: string;
  /** An admin token. */
  admin: string;
  /** A revoked trigger token. */
  revoked: string;
  /** Ids of trigger tokens the fuzzer may revoke, refresh or rotate. */
  victimIds: string[];
}

export type Delivery =
  /** Write everything at once. */
  | { kind: 'whole' }
  /** Write in small pieces with pauses (a slow client). */
  | { kind: 'slow'; pieces: number; pauseMs: number }
  /** Write part of it, then half-close (a client that gives up mid-request). */
  | { kind: 'truncate'; keep: number }
  /** Write it, then go away as soon as the status line arrives. */
  | { kind: 'abort-on-status' };

export interface FuzzRequest {
  bytes: Buffer;
  delivery: Delivery;
  /** What it is, for reports. */
  label: string;
}

type Rng = () => number;

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Rng, p: number) => r() < p;
const int = (r: Rng, min: number, max: number) => min + Math.floor(r() * (max - min + 1));

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomText(r: Rng, length: number, alphabet = BASE62): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function randomBytes(r: Rng, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'FOO', 'PROPFIND', 'CONNECT', ''];

function paths(r: Rng, ctx: FuzzContext): string {
  const id = chance(r, 0.7) && ctx.victimIds.length ? pick(r, ctx.victimIds) : pick(r, ['tok_aaaaaaaaaaaaaaaaaaaa', 'adm_x', 'nope', '', '%00', '..', 'tok_' + randomText(r, 20, 'abcdefghijklmnopqrstuvwxyz234567')]);
  const app = pick(r, ['default', 'default', 'default', 'nope', 'DEFAULT', 'a'.repeat(70), '%2e%2e', 'fz-app']);
  const slug = pick(r, ['chat', 'chat', 'fz', 'fz-cat', 'nope', '', 'a'.repeat(64), '%F0%9F%92%A9']);
  return pick(r, [
    '/',
    '/healthz',
    '/readyz',
    '/metrics',
    '/v1',
    '/v1/apps',
    `/v1/apps/${app}`,
    `/v1/apps/${app}/tokens`,
    `/v1/apps/${app}/tokens?status=${pick(r, ['active', 'expiring', 'expired', 'revoked', 'bogus', ''])}`,
    `/v1/apps/${app}/tokens/${id}`,
    `/v1/apps/${app}/tokens/${id}/revoke`,
    `/v1/apps/${app}/tokens/${id}/refresh`,
    `/v1/apps/${app}/tokens/${id}/rotate`,
    `/v1/apps/${app}/pipelines`,
    `/v1/apps/${app}/pipelines/${slug}`,
    `/v1/audit?app=${app}&limit=${pick(r, ['5', '0', '-1', '99999999', 'x', ''])}`,
    `/v1/trigger/${slug}`,
    `/v1/trigger/${slug}`,
    `/v1/trigger/${slug}`,
    `/v1/trigger/${slug}?access_token=${ctx.trigger}`,
    `/v1/trigger/${slug}/extra`,
    '/v1/trigger/',
    '/v1/trigger',
    '/v1/trigger/chat?' + 'q='.repeat(int(r, 1, 3000)),
    '/v1/trigger/../../etc/passwd',
    '/v1/apps/%E0%A4%A',
    '/' + randomText(r, int(r, 1, 9000)),
    '*',
    'http://127.0.0.1/v1/apps',
    '/v1/apps\u0000',
  ]);
}

function authorization(r: Rng, ctx: FuzzContext): string[] {
  const valid = pick(r, [ctx.trigger, ctx.trigger, ctx.admin]);
  const forged = 'mm_tok_' + randomText(r, 36);
  return pick(r, [
    [],
    [`Bearer ${valid}`],
    [`Bearer ${valid}`],
    [`bearer ${valid}`],
    [`BEARER ${valid}`],
    [`Bearer  ${valid}`],
    [`Bearer ${valid} extra`],
    [`Bearer\t${valid}`],
    [`Bearer ${ctx.revoked}`],
    [`Bearer ${forged}`],
    [`Bearer ${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`],
    [`Bearer ${valid.slice(0, int(r, 0, valid.length))}`],
    [`Bearer ${valid}${randomText(r, int(r, 1, 40))}`],
    ['Bearer'],
    ['Bearer '],
    ['Basic dXNlcjpwYXNz'],
    [`Token ${valid}`],
    [valid],
    [`Bearer ${valid}`, `Bearer ${valid}`],
    [`Bearer ${valid}`, `Bearer ${ctx.admin}`],
    [`Bearer ${'x'.repeat(int(r, 100, 12_000))}`],
    [`Bearer mm_adm_${randomText(r, 36)}`],
    [`Bearer mm_tok_${randomText(r, 30)}éééééé`],
  ]);
}

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'json',
  ';;;',
  '',
];

function jsonBody(r: Rng): Buffer {
  if (chance(r, 0.35)) {
    // Admin-shaped bodies, valid and not.
    return Buffer.from(
      JSON.stringify(
        pick(r, [
          { name: `fz ${randomText(r, 6)}`, expires_in: pick(r, ['1d', '30d', '0d', '-1d', '400d', 'x', '1y', '']) },
          { name: 'x'.repeat(int(r, 0, 300)), expires_at: pick(r, ['2000-01-01T00:00:00Z', 'garbage', new Date(Date.now() + 86_400_000).toISOString(), 12]) },
          { expires_in: '2d' },
          { grace: pick(r, ['1h', '24h', '999d', 'x', '']) },
          { slug: pick(r, ['fz', 'fz-cat', 'Bad Slug', '', 'x'.repeat(80)]), kind: pick(r, ['echo', 'command', 'http', 'openai', 'nope']), config: pick(r, [{}, { delay_ms: int(r, 0, 20) }, { argv: pick(r, [['cat'], ['true'], ['sleep', '0.2']]) }, { url: 'http://127.0.0.1:9/' }, { base_url: 'http://127.0.0.1:9/', model: 'm' }, { unknown: 1 }, null, 'x']) },
          { kind: pick(r, ['echo', 'command']), config: pick(r, [{}, { argv: ['cat'] }, { argv: [] }]) },
          { slug: `fz-app-${int(r, 0, 20)}`, name: 'fuzz app' },
          { name: null },
          {},
        ]),
      ),
    );
  }
  return Buffer.from(
    pick(r, [
      '{"message":"hello fuzz"}',
      '{"message":"hello fuzz"}',
      `{"message":"${'word '.repeat(int(r, 1, 200))}"}`,
      '{"message":123}',
      '{"messages":[{"role":"user","content":"hi"}]}',
      '{}',
      '[]',
      'null',
      '"string"',
      '123',
      'true',
      '{',
      '{"message":',
      '{"message":"unterminated',
      '\u0000',
      ' ',
      '{"a":1,"a":2}',
      '{"__proto__":{"polluted":true},"message":"x"}',
      '{"constructor":{"prototype":{"x":1}}}',
      '['.repeat(int(r, 100, 200_000)) + ']'.repeat(int(r, 0, 10)),
      '{"message":"' + '\\ud800'.repeat(int(r, 1, 10)) + '"}',
      '1e999999',
      '{"message":"\\u0000\\u001f"}',
    ]),
  );
}

function body(r: Rng, path: string): { bytes: Buffer; label: string } {
  const roll = r();
  if (roll < 0.7) return { bytes: jsonBody(r), label: 'json' };
  if (roll < 0.8) {
    // invalid UTF-8 inside and around JSON
    const bad = pick(r, [Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xe2, 0x82])]);
    return { bytes: Buffer.concat([Buffer.from('{"message":"'), bad, Buffer.from('"}')]), label: 'invalid-utf8' };
  }
  if (roll < 0.86) return { bytes: randomBytes(r, int(r, 1, 4096)), label: 'binary' };
  if (roll < 0.88) return { bytes: Buffer.alloc(int(r, 1_048_000, 1_300_000), 0x20), label: 'huge' };
  if (roll < 0.9) {
    const inner = 'x'.repeat(1_048_576 - 14);
    return { bytes: Buffer.from(`{"message":"${inner}"}`), label: 'limit' };
  }
  return { bytes: Buffer.alloc(0), label: 'empty' };
}

/** The request number `index` of the run seeded `seed` (deterministic given the same context). */
export function generate(r: Rng, ctx: FuzzContext): FuzzRequest {
  const labels: string[] = [];
  // 4 % pure garbage on the wire.
  if (chance(r, 0.04)) {
    const bytes = pick(r, [
      randomBytes(r, int(r, 1, 2000)),
      Buffer.from('GET / HTTP/1.1\r\n\r\n'.repeat(int(r, 2, 50))),
      Buffer.from(`GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n`),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from(`GET /healthz HTTP/1.1\nHost: x\n\n`),
      Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n`),
      Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n`),
      Buffer.from(`GET /${'a'.repeat(int(r, 10_000, 70_000))} HTTP/1.1\r\nHost: x\r\n\r\n`),
      Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(int(r, 10_000, 40_000))}\r\n\r\n`),
      Buffer.from(`GET /healthz HTTP/1.1\r\n${Array.from({ length: int(r, 100, 3000) }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`),
      Buffer.from('\r\n\r\n\r\n'),
      Buffer.alloc(0),
    ]);
    return { bytes, delivery: chance(r, 0.2) ? { kind: 'truncate', keep: Math.floor(bytes.length / 2) } : { kind: 'whole' }, label: 'garbage' };
  }

  const method = chance(r, 0.55) ? 'POST' : pick(r, METHODS);
  const path = paths(r, ctx);
  const version = chance(r, 0.97) ? 'HTTP/1.1' : pick(r, ['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1']);
  const headers: string[] = [];
  if (chance(r, 0.97)) headers.push(`Host: 127.0.0.1:${ctx.port}`);
  for (const value of authorization(r, ctx)) headers.push(`Authorization: ${value}`);
  const contentType = pick(r, CONTENT_TYPES);
  if (contentType !== undefined) headers.push(`Content-Type: ${contentType}`);
  if (chance(r, 0.25)) headers.push(`Accept: ${pick(r, ['text/event-stream', 'text/event-stream', 'application/json', '*/*', 'text/event-stream;q=0.1, application/json', 'garbage'])}`);
  if (chance(r, 0.05)) headers.push(`Expect: ${pick(r, ['100-continue', 'something-else'])}`);
  if (chance(r, 0.03)) headers.push(`X-Latin1: ${String.fromCharCode(0xe9, 0xff, 0xa0)}`);
  if (chance(r, 0.02)) headers.push(`Transfer-Encoding: ${pick(r, ['gzip', 'chunked, identity', 'bogus'])}`);

  const withBody = method !== 'GET' || chance(r, 0.1);
  let payload: Buffer = Buffer.alloc(0);
  if (withBody) {
    const b = body(r, path);
    payload = b.bytes;
    labels.push(b.label);
  }
  const framing = r();
  let bodyBytes: Buffer = payload;
  if (framing < 0.8) {
    headers.push(`Content-Length: ${payload.length}`);
  } else if (framing < 0.88) {
    // chunked, sometimes broken
    const chunks: Buffer[] = [];
    for (let i = 0; i < payload.length; i += 4096) {
      const piece = payload.subarray(i, i + 4096);
      chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(chance(r, 0.9) ? '0\r\n\r\n' : 'zz\r\n\r\n'));
    headers.push('Transfer-Encoding: chunked');
    bodyBytes = Buffer.concat(chunks);
    labels.push('chunked');
  } else if (framing < 0.92) {
    headers.push(`Content-Length: ${pick(r, ['-1', 'abc', '1e3', String(payload.length + int(r, 1, 100)), String(Math.max(0, payload.length - 5)), '99999999999999999999', ` ${payload.length}`])}`);
    labels.push('bad-length');
  } else if (framing < 0.95) {
    headers.push(`Content-Length: ${payload.length}`, 'Transfer-Encoding: chunked');
    labels.push('smuggle');
  } else if (framing < 0.97) {
    headers.push(`Content-Length: ${payload.length}`, `Content-Length: ${payload.length + 1}`);
    labels.push('two-lengths');
  } else {
    labels.push('no-length');
  }
  if (chance(r, 0.6)) headers.push('Connection: close');

  const head = `${method} ${path} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`;
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), bodyBytes]);
  const d = r();
  const delivery: Delivery =
    d < 0.005
      ? { kind: 'slow', pieces: int(r, 3, 12), pauseMs: int(r, 20, 150) }
      : d < 0.06
        ? { kind: 'truncate', keep: int(r, 1, Math.max(1, bytes.length - 1)) }
        : d < 0.2
          ? { kind: 'abort-on-status' }
          : { kind: 'whole' };
  return { bytes, delivery, label: `${method || '(none)'} ${path.slice(0, 60)} ${labels.join(',')}` };
}

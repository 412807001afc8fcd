import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { accessLogger, createLogger } from '../src/log';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

test('the hand-built access line is byte for byte the line pino writes for the same fields', () => {
  const { lines, stream } = capture();
  const logger = createLogger({ stream: stream as never });
  const write = accessLogger(logger, 'POST', '/v1/trigger/:pipeline');
  const cases = [
    { status: 200, durationMs: 0.1234567, tokenId: 'tok_abcdefghijklmnopqrst', pipeline: 'chat', outcome: 'completed' },
    { status: 401, durationMs: 2, tokenId: null, pipeline: null },
    { status: 404, durationMs: 1.5, tokenId: 'tok_abcdefghijklmnopqrst', pipeline: 'we"ird\\slug', outcome: undefined },
  ];
  for (const entry of cases) {
    write(entry);
    logger.info(
      { method: 'POST', route: '/v1/trigger/:pipeline', status: entry.status, duration_ms: Math.round(entry.durationMs * 1000) / 1000, token_id: entry.tokenId, pipeline: entry.pipeline, outcome: entry.outcome },
      'request',
    );
  }
  assert.equal(lines.length, 6);
  for (let i = 0; i < lines.length; i += 2) {
    assert.equal(withoutTime(lines[i]!), withoutTime(lines[i + 1]!));
    assert.match(JSON.parse(lines[i]!).time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  }
});

test('the access line honours the log level', () => {
  const { lines, stream } = capture();
  const write = accessLogger(createLogger({ stream: stream as never, level: 'warn' }), 'POST', '/x');
  write({ status: 200, durationMs: 1, tokenId: null, pipeline: null });
  assert.deepEqual(lines, []);
});

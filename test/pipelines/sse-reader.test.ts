import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError } from '../../src/errors';
import { readEventStream, type EventStreamLimits, type UpstreamEvent } from '../../src/pipelines/sse-reader';

const MiB = 1_048_576;

/** A stream that yields `chunks` (text is UTF-8 encoded), and tells whether it was cancelled. */
function streamOf(chunks: Array<string | Uint8Array>): { body: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let index = 0;
  let cancelled = false;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index === chunks.length) return controller.close();
      const chunk = chunks[index++]!;
      controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, cancelled: () => cancelled };
}

async function eventsOf(chunks: Array<string | Uint8Array>, limits?: EventStreamLimits): Promise<UpstreamEvent[]> {
  const events: UpstreamEvent[] = [];
  await readEventStream(streamOf(chunks).body, (event) => void events.push(event), limits);
  return events;
}

/** `bytes` split into chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

describe('readEventStream: parsing', () => {
  const sample = 'data: one\r\n\r\n: a comment\n\nevent: message.delta\ndata: two\ndata: lines\r\rdata:no space\n\ndata: ünïcödé ✓ 🎉\r\n\r\nid: 7\nretry: 10\ndata\n\n';
  const expected: UpstreamEvent[] = [
    { event: 'message', data: 'one' },
    { event: 'message.delta', data: 'two\nlines' },
    { event: 'message', data: 'no space' },
    { event: 'message', data: 'ünïcödé ✓ 🎉' },
    { event: 'message', data: '' },
  ];

  test('CR, LF and CRLF line ends; multi-line data; comments and unknown fields ignored', async () => {
    assert.deepEqual(await eventsOf([sample]), expected);
  });

  test('the same events whatever the chunk boundaries (split at every byte, CRLF and UTF-8 included)', async () => {
    const bytes = new TextEncoder().encode(sample);
    for (let at = 1; at < bytes.length; at++) {
      assert.deepEqual(await eventsOf([bytes.subarray(0, at), bytes.subarray(at)]), expected, `split at byte ${at}`);
    }
    assert.deepEqual(await eventsOf(chunked(bytes, 1)), expected, 'one byte at a time');
    // An empty chunk between the CR and the LF of a CRLF changes nothing.
    assert.deepEqual(await eventsOf(['data: a\r', new Uint8Array(0), '\n\r\n']), [{ event: 'message', data: 'a' }]);
  });

  test('a last event without its blank line, or a last line without its end, is still delivered', async () => {
    assert.deepEqual(await eventsOf(['data: a\n\ndata: b\n']), [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
    assert.deepEqual(await eventsOf(['data: a\n\ndata: b']), [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
  });

  test('onEvent returning false stops reading and cancels the stream', async () => {
    const stream = streamOf(['data: a\n\n', 'data: b\n\n', 'data: c\n\n']);
    const seen: string[] = [];
    await readEventStream(stream.body, (event) => (seen.push(event.data), false));
    assert.deepEqual(seen, ['a']);
    assert.equal(stream.cancelled(), true);
  });
});

describe('readEventStream: bounded', () => {
  test('a line longer than the limit fails the run and cancels the stream', async () => {
    const stream = streamOf(['data: ', 'x'.repeat(600), 'x'.repeat(600), '\n\n']);
    const error = await readEventStream(stream.body, () => {}, { maxLineChars: 1_000, origin: 'http://upstream' }).catch((e: unknown) => e);
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'pipeline_failed');
    assert.match(error.details?.detail as string, /event stream from http:\/\/upstream has a line longer than 1000 characters/);
    assert.equal(stream.cancelled(), true);
    // Within one chunk too.
    const inOneChunk = await readEventStream(streamOf([`data: ${'x'.repeat(2_000)}\n\n`]).body, () => {}, { maxLineChars: 1_000 }).catch((e: unknown) => e);
    assert.ok(inOneChunk instanceof AppError);
  });

  test('more bytes than the limit fail the run and cancel the stream', async () => {
    const stream = streamOf(Array.from({ length: 100 }, () => 'data: 0123456789\n\n'));
    const error = await readEventStream(stream.body, () => {}, { maxBytes: 1_000 }).catch((e: unknown) => e);
    assert.ok(error instanceof AppError);
    assert.match(error.details?.detail as string, /longer than 1000 bytes/);
    assert.equal(stream.cancelled(), true);
  });
});

describe('readEventStream: linear time (finding 9)', () => {
  /** The least CPU time of `rounds` reads of one newline-less event of `size` bytes in 4 KiB chunks (ms). */
  async function fastestRead(size: number, rounds: number): Promise<number> {
    const chunks = chunked(new TextEncoder().encode(`data: ${'y'.repeat(size - 8)}\n\n`), 4096);
    let best = Infinity;
    for (let round = 0; round < rounds; round++) {
      // CPU time, not wall time: other processes on a busy machine do not count.
      const started = process.cpuUsage();
      const events = await eventsOf(chunks);
      const used = process.cpuUsage(started);
      best = Math.min(best, (used.user + used.system) / 1000);
      assert.equal(events[0]!.data.length, size - 8);
    }
    return best;
  }

  test('a 4 MiB stream without a newline costs about 4 times a 1 MiB one, not 16 times', async () => {
    await fastestRead(MiB, 2); // warm up
    const small = await fastestRead(MiB, 5);
    const large = await fastestRead(4 * MiB, 5);
    // Linear: ×4 (×3 to ×7 measured on a busy machine). Searching the whole buffer again on each
    // chunk, as before: ×16 (1 MiB 1.2 s, 4 MiB 19 s).
    assert.ok(large / small < 10, `1 MiB: ${small.toFixed(1)} ms, 4 MiB: ${large.toFixed(1)} ms of CPU (×${(large / small).toFixed(1)})`);
  });
});

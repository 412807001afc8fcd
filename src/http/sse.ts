import type { ServerResponse } from 'node:http';

/** The SSE answer headers (SPEC), hoisted; the token's expiry header is added per stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  // No `Connection` header: Node writes `keep-alive` only where the connection stays open, and
  // `close` for HTTP/1.0 clients, whose stream ends with the connection.
};

/** How long an EventSource waits before it reconnects (SPEC: `retry: 3000`, the first thing every stream sends). */
export const SSE_RETRY_MS = 3_000;

/** The `retry:` field block that opens a stream. */
export function retryField(ms: number): string {
  return `retry: ${ms}\n\n`;
}

/** One event: `id:` its run's sequence number, `event:`, one-line JSON `data:`, LF line ends. */
export function sseFrame(seq: number, name: string, data: string): string {
  return `id: ${seq}\nevent: ${name}\ndata: ${data}\n\n`;
}

/**
 * Writes server-sent events straight to the socket: `id: n` from 1, `event:`, one-line JSON
 * `data:` (JSON.stringify never emits a raw newline), LF line ends; each event is written (and so
 * flushed) at once. After `end` every write is ignored.
 */
export class SseWriter {
  private nextId = 1;
  private ended = false;

  constructor(private readonly res: ServerResponse) {}

  get isEnded(): boolean {
    return this.ended;
  }

  event(name: string, data: unknown): void {
    if (this.ended || this.res.destroyed) return;
    this.res.write(`id: ${this.nextId++}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (this.ended || this.res.destroyed) return;
    this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }
}

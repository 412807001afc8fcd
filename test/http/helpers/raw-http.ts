import net from 'node:net';
import tls from 'node:tls';

/** What came back on one raw connection, and when it was closed. */
export interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** From connect to close (ms). */
  ms: number;
  /** The server closed it (false: the test gave up after its timeout and cut it). */
  closedByServer: boolean;
}

/**
 * Opens a TCP (or TLS) connection to 127.0.0.1:`port`, writes `bytes` (and never ends its side,
 * as a slow or stalled client), and collects what the server sends until it closes the connection,
 * or until `timeoutMs` (then the connection is cut and `closedByServer` is false).
 */
export function rawExchange(port: number, bytes: string | Buffer, options: { timeoutMs?: number; tls?: boolean } = {}): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = options.tls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(port, '127.0.0.1');
    let text = '';
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      socket.destroy();
    }, options.timeoutMs ?? 10_000);
    socket.setEncoding('utf8');
    socket.on(options.tls ? 'secureConnect' : 'connect', () => {
      if (bytes.length > 0) socket.write(bytes);
    });
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {
      // a reset is a close, for these tests
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - started, closedByServer: !cut });
    });
  });
}

/** The status code of the first response in `text`, or 0. */
export function statusOf(text: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The body of the first response in `text` (after the blank line), parsed as JSON. */
export function jsonBodyOf(text: string): { error?: { code?: string; message?: string } } & Record<string, unknown> {
  const start = text.indexOf('\r\n\r\n');
  const head = text.slice(0, start);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
  const body = text.slice(start + 4);
  return JSON.parse(Number.isFinite(length) ? Buffer.from(body).subarray(0, length).toString('utf8') : body) as { error?: { code?: string; message?: string } };
}

/** How many responses (status lines) `text` holds. */
export function responseCount(text: string): number {
  return text.match(/(?:^|\r\n)HTTP\/1\.[01] \d{3} /g)?.length ?? 0;
}

/** A header of the first response (lower-case name), or undefined. */
export function headerOf(text: string, name: string): string | undefined {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (line.slice(0, colon).toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

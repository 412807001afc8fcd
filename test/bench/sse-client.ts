// SSE load client, in its own process (so that it never shares a core's event loop with the server):
// `node --import tsx test/bench/sse-client.ts` with an IPC channel. Raw `net` sockets, no agent,
// no limits. Commands (IPC):
//   {cmd:'config', port, path, token, body}                 target
//   {cmd:'open', count, concurrency}   → {opened, failed, ms, ttfe:[ms…]}   opens and HOLDS streams;
//                                       a stream counts as set up when its first event arrives
//   {cmd:'probe', count, rate}         → {ok, failed, ttfe:[ms…]}  paced new streams, each closed
//                                       right after its first event (time to first event)
//   {cmd:'status'}                     → {open, endedByServer, failedEvents, endedAt:[epoch ms…]}
//   {cmd:'closeAll'}                   → {closed}
import net from 'node:net';
import { performance } from 'node:perf_hooks';

interface Target {
  port: number;
  request: Buffer;
}

let target: Target | undefined;
const held = new Set<net.Socket>();
let endedByServer = 0;
let failedEvents = 0;
/** When each stream the server ended was closed (epoch ms, comparable across processes). */
const endedAt: number[] = [];

/** Opens one stream; resolves with the time to its first event (ms), or rejects. */
function openStream(hold: boolean, timeoutMs = 20_000): Promise<number> {
  const t = target!;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port: t.port });
    socket.setNoDelay(true);
    let buffered = '';
    let first = false;
    const timer = setTimeout(() => fail(new Error('no first event in time')), timeoutMs);
    function fail(error: Error) {
      clearTimeout(timer);
      socket.destroy();
      held.delete(socket);
      if (!first) reject(error);
    }
    socket.on('connect', () => socket.write(t.request));
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (!first) {
        buffered += text;
        if (!buffered.startsWith('HTTP/1.1 200')) {
          if (buffered.includes('\r\n')) fail(new Error(`status ${buffered.slice(0, 40).split('\r\n')[0]}`));
          return;
        }
        if (!buffered.includes('\nevent:')) return;
        first = true;
        clearTimeout(timer);
        const ms = performance.now() - started;
        if (hold) held.add(socket);
        else socket.destroy();
        buffered = '';
        resolve(ms);
        return;
      }
      if (text.includes('event: run.failed')) failedEvents++;
      // The stream is over when its last event has come and the chunked body has ended (the
      // connection itself may stay open for keep-alive).
      if (text.includes('event: run.failed') || text.includes('event: run.completed') || text.endsWith('\r\n0\r\n\r\n')) {
        if (held.delete(socket)) {
          endedByServer++;
          endedAt.push(performance.timeOrigin + performance.now());
          socket.destroy();
        }
      }
    });
    socket.on('error', (error) => fail(error));
    socket.on('close', () => {
      if (first && held.delete(socket)) {
        endedByServer++;
        endedAt.push(performance.timeOrigin + performance.now());
      }
      if (!first) fail(new Error('closed before the first event'));
    });
  });
}

async function openMany(count: number, concurrency: number): Promise<{ opened: number; failed: number; ms: number; ttfe: number[]; errors: string[] }> {
  const ttfe: number[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  let failed = 0;
  const started = performance.now();
  async function worker() {
    while (next < count) {
      next++;
      try {
        ttfe.push(await openStream(true));
      } catch (error) {
        failed++;
        const key = (error as Error).message;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { opened: ttfe.length, failed, ms: performance.now() - started, ttfe, errors: [...errors].map(([k, v]) => `${v}× ${k}`) };
}

async function probe(count: number, rate: number): Promise<{ ok: number; failed: number; ttfe: number[] }> {
  const ttfe: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const interval = 1000 / rate;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(openStream(false).then((ms) => void ttfe.push(ms), () => void failed++));
  }
  await Promise.all(pending);
  return { ok: ttfe.length, failed, ttfe };
}

process.on('message', (raw) => {
  const m = raw as { cmd: string; [k: string]: unknown };
  const reply = (value: object) => process.send!({ re: m.cmd, ...value });
  switch (m.cmd) {
    case 'config': {
      const body = String(m.body);
      const head =
        `POST ${String(m.path)} HTTP/1.1\r\nHost: 127.0.0.1:${Number(m.port)}\r\nAuthorization: Bearer ${String(m.token)}\r\n` +
        `Content-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      target = { port: Number(m.port), request: Buffer.from(head + body) };
      reply({});
      break;
    }
    case 'open':
      void openMany(Number(m.count), Number(m.concurrency)).then(reply);
      break;
    case 'probe':
      void probe(Number(m.count), Number(m.rate)).then(reply);
      break;
    case 'status':
      reply({ open: held.size, endedByServer, failedEvents, endedAt });
      break;
    case 'closeAll': {
      const closed = held.size;
      for (const socket of held) socket.destroy();
      held.clear();
      reply({ closed });
      break;
    }
    case 'exit':
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });

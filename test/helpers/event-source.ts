import http from 'node:http';
import { EventSource } from 'eventsource';
import type { EventSourceFetchInit, FetchLikeResponse } from 'eventsource';
import { eventually, parseEvents, request, type SseEvent } from './server';

/** The events a run's SSE answer can carry. */
export const RUN_EVENTS = ['run.started', 'message.delta', 'run.completed', 'run.failed'] as const;

export interface SourceEvent {
  id: string;
  name: string;
  data: string;
}

export interface TriggerSource {
  source: EventSource;
  /** Every event the EventSource dispatched, in order. */
  events: SourceEvent[];
  /** Each connection's status (the first is the POST that started the run). */
  statuses: number[];
  /** Each connection's request headers as sent. */
  requests: Array<Record<string, string>>;
  /** The run id from the first answer's Mechamental-Run-Id. */
  runId(): string | undefined;
  /** Resolves when the EventSource stopped for good (a 204, or a failed connection), with that error's status. */
  closed: Promise<number | undefined>;
}

/**
 * The seed's SSE trigger driven by the real `eventsource` package (v4): a custom fetch turns every
 * (re)connection into `POST /v1/trigger/<pipeline>` with the token, the JSON body and the
 * EventSource's own headers (Accept, and Last-Event-ID on a reconnect) — what an integration does
 * to use EventSource with a POST endpoint. Optionally it sends back the run id of the first answer
 * (`Mechamental-Run-Id`), and drops the first `drops` connections right after their first chunk
 * that carries a `message.delta` (a network cut mid-stream: the stream just ends, as a dropped
 * proxy connection would, and EventSource reconnects).
 */
export function triggerSource(
  url: string,
  token: string,
  body: object,
  options: { sendRunId?: boolean; headers?: Record<string, string>; drops?: number } = {},
): TriggerSource {
  const events: SourceEvent[] = [];
  const statuses: number[] = [];
  const requests: Array<Record<string, string>> = [];
  let runId: string | undefined;
  let dropsLeft = options.drops ?? 0;
  const fetchLike = async (input: string | URL, init: EventSourceFetchInit): Promise<FetchLikeResponse> => {
    const headers: Record<string, string> = {
      ...init.headers,
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      ...options.headers,
      ...(options.sendRunId && runId ? { 'Mechamental-Run-Id': runId } : {}),
    };
    requests.push(headers);
    const response = await fetch(input, { method: 'POST', headers, body: JSON.stringify(body), signal: init.signal as AbortSignal });
    statuses.push(response.status);
    runId ??= response.headers.get('mechamental-run-id') ?? undefined;
    if (dropsLeft <= 0 || response.status !== 200 || !response.body) return response;
    dropsLeft--;
    const reader = response.body.getReader();
    const cut = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        if (Buffer.from(value).toString('utf8').includes('event: message.delta')) {
          controller.close();
          await reader.cancel();
        }
      },
      cancel: () => reader.cancel(),
    });
    return new Response(cut, { status: response.status, headers: response.headers });
  };
  const source = new EventSource(url, { fetch: fetchLike });
  for (const name of RUN_EVENTS) {
    source.addEventListener(name, (event: MessageEvent) => events.push({ id: event.lastEventId, name, data: String(event.data) }));
  }
  const closed = new Promise<number | undefined>((resolve) => {
    source.addEventListener('error', (event) => {
      if (source.readyState === source.CLOSED) resolve((event as Event & { code?: number }).code);
    });
  });
  return { source, events, statuses, requests, runId: () => runId, closed };
}

/** A whole SSE answer read with GET (a finished run's replay, or a live one until it ends). */
export async function readEvents(url: string, headers: Record<string, string>): Promise<{ status: number; events: SseEvent[]; raw: string; headers: Record<string, unknown> }> {
  const reply = await request(url, { headers });
  return { status: reply.status, events: parseEvents(reply.body), raw: reply.body, headers: reply.headers };
}

/** Waits until `file` holds `lines` lines (a command pipeline that counts its runs). */
export async function waitForLines(read: () => string, lines: number, timeoutMs = 10_000): Promise<void> {
  await eventually(() => read().split('\n').filter(Boolean).length >= lines, timeoutMs, `${lines} line(s)`);
}

/** A GET of an SSE answer read as it arrives (a resumed stream that a test acts on mid-way). */
export class StreamReader {
  raw = '';
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  readonly done: Promise<void>;
  private req!: http.ClientRequest;

  constructor(url: string, headers: Record<string, string>) {
    this.done = new Promise((resolve, reject) => {
      this.req = http.get(url, { headers, agent: false }, (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (this.raw += chunk));
        res.on('close', () => resolve());
      });
      this.req.on('error', reject);
    });
  }

  get events(): SseEvent[] {
    return parseEvents(this.raw);
  }

  /** Waits until the answer has begun (its status and `retry:` are in). */
  opened(timeoutMs = 5_000): Promise<boolean> {
    return eventually(() => this.raw.startsWith('retry: '), timeoutMs, 'the stream to open');
  }

  close(): void {
    this.req.destroy();
  }
}

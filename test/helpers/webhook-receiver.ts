import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, and whether its Standard Webhooks signature verified. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The parsed payload when the signature verified (by the `standardwebhooks` package), else undefined. */
  payload: { type: string; timestamp: string; data: Record<string, unknown> } | undefined;
  verifyError: string | undefined;
  /** The status the receiver answered. */
  status: number;
}

/**
 * A real webhook receiver on 127.0.0.1, port 0: every request is verified with the Standard Webhooks
 * package against `secret` (set once known) and recorded. `answer` decides the status per request
 * (default 204); a function may also hold the request (never answer) or redirect.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  secret: string | undefined;
  answer: (request: Received, index: number) => number | 'hang' | { status: number; headers?: Record<string, string>; body?: string } = () => 204;
  private readonly server: http.Server;
  private readonly hung: http.ServerResponse[] = [];
  url = '';

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = { 'webhook-id': String(req.headers['webhook-id'] ?? ''), 'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''), 'webhook-signature': String(req.headers['webhook-signature'] ?? '') };
        const record: Received = { id: headers['webhook-id'], timestamp: headers['webhook-timestamp'], signature: headers['webhook-signature'], body, payload: undefined, verifyError: undefined, status: 0 };
        try {
          if (!this.secret) throw new Error('the receiver has no secret yet');
          record.payload = new Webhook(this.secret).verify(body, headers) as Received['payload'];
        } catch (error) {
          record.verifyError = (error as Error).message;
        }
        const decision = this.answer(record, this.received.length);
        this.received.push(record);
        if (decision === 'hang') {
          this.hung.push(res);
          return;
        }
        const { status, headers: extra, body: answerBody } = typeof decision === 'number' ? { status: decision, headers: {}, body: '' } : decision;
        record.status = status;
        res.writeHead(status, extra ?? {});
        res.end(answerBody ?? '');
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hooks/mechamental`;
    after(() => receiver.close());
    return receiver;
  }

  /** The verified events, in arrival order. */
  get events(): NonNullable<Received['payload']>[] {
    return this.received.filter((r) => r.payload !== undefined).map((r) => r.payload!);
  }

  /** Requests answered 2xx, by webhook-id (a delivered event appears once). */
  deliveredIds(): string[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id);
  }

  close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';

const sent = new WeakSet<ServerResponse>();

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the listeners hand such requests to the same handlers
 * (the `checkContinue` event) instead of letting Node answer 100 at once, and a handler calls this
 * only when it is about to read the body — after authentication, the route, the Content-Type and the
 * declared Content-Length were judged. A request refused on any of those gets its final answer and
 * never a 100, so the client does not send a body that would be thrown away.
 */
export function continueIfExpected(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  if (expect === undefined || sent.has(res) || res.headersSent || expect.toLowerCase() !== '100-continue') return;
  sent.add(res);
  res.writeContinue();
}

/**
 * Content negotiation for the trigger (RFC 9110 §12.5.1): media ranges are matched
 * case-insensitively and q-values are honoured. The event stream is chosen when `text/event-stream`
 * is acceptable (q > 0, named explicitly: a wildcard never turns an answer into a stream) and JSON
 * is not preferred over it; a tie goes to the stream, which the client named.
 *
 *   text/event-stream                         → stream
 *   TEXT/EVENT-STREAM                         → stream
 *   text/event-stream;q=0                     → JSON
 *   application/json, text/event-stream;q=0.1 → JSON
 *   (absent), *\/*                            → JSON
 */
export function prefersEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  if (accept === 'text/event-stream') return true; // what EventSource and nearly every SSE client send
  let stream = -1;
  let json = -1;
  let start = 0;
  while (start <= accept.length) {
    let end = accept.indexOf(',', start);
    if (end === -1) end = accept.length;
    const range = accept.slice(start, end);
    start = end + 1;
    const semicolon = range.indexOf(';');
    const type = (semicolon === -1 ? range : range.slice(0, semicolon)).trim().toLowerCase();
    if (type !== 'text/event-stream' && type !== 'application/json' && type !== 'application/*') continue;
    const q = semicolon === -1 ? 1 : qValue(range.slice(semicolon + 1));
    if (type === 'text/event-stream') stream = Math.max(stream, q);
    else json = Math.max(json, q);
  }
  return stream > 0 && stream >= json;
}

/** The q parameter of a media range's parameters (`;q=0.5;level=1`), 1 when absent or malformed. */
function qValue(parameters: string): number {
  for (const parameter of parameters.split(';')) {
    const eq = parameter.indexOf('=');
    if (eq === -1 || parameter.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = Number(parameter.slice(eq + 1).trim());
    return Number.isFinite(value) && value >= 0 && value <= 1 ? value : 1;
  }
  return 1;
}

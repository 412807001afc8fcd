import type { IncomingMessage } from 'node:http';

/**
 * The same-origin half of the console's CSRF defence, for requests that change something: the
 * browser's `Origin` must be this server's own origin (scheme, Host and port as the request
 * reached it); when a browser sends no Origin, `Sec-Fetch-Site: same-origin` is accepted instead.
 * SameSite=Strict alone is not enough: another port on the same host (a dev server on
 * localhost:3000) is the same *site*, so the cookie goes along; it is not the same *origin*.
 *
 * Answers undefined when the request is same-origin, otherwise the sentence to refuse it with.
 */
export function crossOriginProblem(req: IncomingMessage, secure: boolean): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = ownOrigin(req, secure);
    if (own !== undefined && normalise(origin) === own) return undefined;
    return `the request came from another origin (${origin.slice(0, 100)}); the console changes data only from its own pages`;
  }
  if (req.headers['sec-fetch-site'] === 'same-origin') return undefined;
  return 'the request does not show that it came from the console (no Origin header, and no Sec-Fetch-Site: same-origin); use the console in a current browser, or call the admin API with Authorization: Bearer';
}

function ownOrigin(req: IncomingMessage, secure: boolean): string | undefined {
  const host = req.headers.host;
  if (host === undefined) return undefined;
  return normalise(`${secure ? 'https' : 'http'}://${host}`);
}

/** An origin in URL's normal form (lower case, default port dropped), or a value that matches nothing. */
function normalise(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === 'null' ? '\0' : url.origin;
  } catch {
    return '\0';
  }
}

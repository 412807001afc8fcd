import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/**
 * The console's session cookie. Under HTTPS its name carries the `__Host-` prefix, which browsers
 * accept only with `Secure`, `Path=/` and no `Domain`, so no other site or subdomain can set or
 * shadow it; over plain HTTP (loopback, the default) that prefix cannot be used.
 */
export const COOKIE_NAME = 'mm_console';
export const SECURE_COOKIE_NAME = '__Host-mm_console';

/** Whether the request came over TLS (the server's own HTTPS; see docs on proxies). */
export function isSecure(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true;
}

export function cookieName(secure: boolean): string {
  return secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
}

/** The value of cookie `name` in the request's Cookie header(s), or undefined (the first one wins). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `Set-Cookie` for a session: HttpOnly, SameSite=Strict, Path=/, Secure under HTTPS; kept `maxAgeSeconds`. */
export function sessionCookie(sessionId: string, secure: boolean, maxAgeSeconds: number): string {
  return `${cookieName(secure)}=${sessionId}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** `Set-Cookie` that removes the session cookie. */
export function clearedCookie(secure: boolean): string {
  return `${cookieName(secure)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

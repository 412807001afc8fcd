import { isIPv4, isIPv6 } from 'node:net';
import os from 'node:os';

/**
 * The `Host` header check that runs first in the request listener (before the trigger handler and
 * Express). It does two things:
 *
 * - RFC 9112 §3.2: an HTTP/1.1 request without a Host, or with more than one, is answered 400.
 *   (Node's own `requireHostHeader` answers with an empty body; ours is the JSON error.)
 * - DNS rebinding: a web page on `evil.example` whose name is made to resolve to 127.0.0.1 can make
 *   a browser talk to this server, but the browser still sends `Host: evil.example`. Requests whose
 *   Host is not a name this server answers for get 421 `misdirected_request`.
 *
 * What is answered (docs/configuration.md): the loopback names (`localhost`, `127.0.0.1`,
 * `[::1]`) on any port; any IP literal (a rebinding attack needs a DNS name the attacker controls,
 * so an address in Host is never one, and NAT or a container's port mapping makes the address a
 * client uses differ from ours); when a listener is not on loopback, its host and this machine's
 * host name; and the names in MM_ALLOWED_HOSTS (`*`: any Host).
 *
 * Cost on the hot path: one pass over `rawHeaders` (no `req.headers` object is built) and one
 * Set lookup on the header value as sent; only a value not seen before takes the slower path,
 * and an allowed one is then remembered (up to a bound) so that it, too, is a Set lookup next time.
 */

export const HOST_OK = 0;
export const HOST_MISSING = 1;
export const HOST_DUPLICATE = 2;
export const HOST_EMPTY = 3;
export const HOST_MISDIRECTED = 4;
export type HostVerdict = typeof HOST_OK | typeof HOST_MISSING | typeof HOST_DUPLICATE | typeof HOST_EMPTY | typeof HOST_MISDIRECTED;

/** At most this many Host values found allowed on the slow path are remembered (e.g. `localhost:9000` behind a port mapping). */
const REMEMBERED_MAX = 256;

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Is `host` (an address or name to listen on) on loopback? `localhost`, 127.0.0.0/8, `::1` and
 * their IPv4-mapped forms. The wildcards (`0.0.0.0`, `::`) and every other name are not.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (h.startsWith('::ffff:')) h = h.slice(7);
  return isIPv4(h) && h.startsWith('127.');
}

/** `host` as it appears in a Host header (an IPv6 literal in brackets), lower case. */
export function hostForHeader(host: string): string {
  const h = host.trim().toLowerCase();
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

export interface AllowedHostsOptions {
  /** The hosts the listeners are bound to. */
  listenHosts: string[];
  /** Their ports (after binding), so that `name:port` is matched without parsing. */
  ports: number[];
  /** MM_ALLOWED_HOSTS: more names (any port); `*` allows any Host. */
  extra: readonly string[];
  /** This machine's name; default `os.hostname()`. */
  hostname?: string;
}

export class AllowedHosts {
  /** Any Host is answered (MM_ALLOWED_HOSTS=*); missing and duplicated Hosts are still 400. */
  readonly any: boolean;
  /** Host values, exactly as a client sends them, known to be allowed. */
  private readonly exact = new Set<string>();
  /** Names (without port, lower case) allowed on any port. */
  private readonly names = new Set<string>();
  private remembered = 0;

  constructor(options: AllowedHostsOptions) {
    this.any = options.extra.includes('*');
    for (const name of LOOPBACK_NAMES) this.names.add(name);
    for (const host of options.listenHosts) {
      if (isLoopbackHost(host)) continue;
      const name = hostForHeader(host);
      // A wildcard address is not a name anyone sends; the machine's name and addresses stand for it.
      if (name !== '0.0.0.0' && name !== '[::]') this.names.add(name);
      this.names.add((options.hostname ?? os.hostname()).toLowerCase());
    }
    for (const name of options.extra) if (name !== '*') this.names.add(name.toLowerCase());
    // Pre-fill the exact forms clients send, so that the usual request is one Set lookup.
    for (const name of this.names) {
      this.exact.add(name);
      for (const port of options.ports) this.exact.add(`${name}:${port}`);
    }
  }

  /**
   * The verdict for a request's headers. `http11`: the request is HTTP/1.1 (a Host is required);
   * an HTTP/1.0 request without Host is answered (it cannot come from a browser).
   */
  check(rawHeaders: string[], http11: boolean): HostVerdict {
    let host: string | undefined;
    let duplicate = false;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
        if (host !== undefined) duplicate = true;
        host = rawHeaders[i + 1]!;
      }
    }
    if (duplicate) return HOST_DUPLICATE;
    if (host === undefined) return http11 ? HOST_MISSING : HOST_OK;
    if (this.exact.has(host)) return HOST_OK;
    if (host === '') return HOST_EMPTY;
    if (this.any) return HOST_OK;
    if (this.allowsSlowly(host)) {
      if (this.remembered < REMEMBERED_MAX) {
        this.remembered++;
        this.exact.add(host);
      }
      return HOST_OK;
    }
    return HOST_MISDIRECTED;
  }

  /** Is this Host value (with or without port, any case, a trailing dot) one we answer for? */
  allows(host: string): boolean {
    return this.any || this.exact.has(host) || this.allowsSlowly(host);
  }

  private allowsSlowly(host: string): boolean {
    const value = host.toLowerCase();
    let name: string;
    let port: string;
    if (value.charCodeAt(0) === 0x5b /* [ */) {
      const end = value.indexOf(']');
      if (end === -1) return false;
      name = value.slice(0, end + 1);
      port = value.slice(end + 1);
    } else {
      const colon = value.indexOf(':');
      if (colon !== value.lastIndexOf(':')) return false; // an IPv6 literal must be in brackets
      name = colon === -1 ? value : value.slice(0, colon);
      port = colon === -1 ? '' : value.slice(colon);
    }
    if (port !== '' && !isPortSuffix(port)) return false;
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name === '') return false;
    if (this.names.has(name)) return true;
    return name.startsWith('[') ? name.endsWith(']') && isIPv6(name.slice(1, -1)) : isIPv4(name);
  }
}

/** `:` and 1 to 5 digits. */
function isPortSuffix(text: string): boolean {
  if (text.length < 2 || text.length > 6 || text.charCodeAt(0) !== 0x3a) return false;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

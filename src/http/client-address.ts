import { isIP } from 'node:net';
import { IpRanges, unmapAddress } from '../ip-ranges';

/**
 * Who is asking: the address a token's allow-list, `last_used_ip` and the leak endpoint's rate limit
 * go by.
 *
 * The socket's peer address, unless that peer is one of MM_TRUSTED_PROXIES: then the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy (each proxy appends the address it was
 * reached from, so entries left of the last trusted hop are whatever the client chose to send and
 * are never believed). When every entry is a trusted proxy, the left-most one. A peer that is not
 * trusted can send any X-Forwarded-For it likes: it is ignored. IPv4-mapped IPv6 addresses are
 * answered as the IPv4 address they carry.
 *
 * An entry that is not an address (a broken or hostile chain) gives the empty string: an unknown
 * client, which no allow-list admits.
 */
export class ClientAddresses {
  private readonly trusted: IpRanges | null;

  constructor(trustedProxies: readonly string[]) {
    this.trusted = trustedProxies.length > 0 ? new IpRanges(trustedProxies) : null;
  }

  /**
   * The client address of a request whose socket peer is `peer` and whose X-Forwarded-For lines,
   * joined by commas, are `forwardedFor`. Without trusted proxies this is the peer, with no work.
   */
  of(peer: string | undefined, forwardedFor: string | undefined): string {
    if (peer === undefined) return '';
    if (this.trusted === null || forwardedFor === undefined || !this.trusted.has(peer)) return unmapAddress(peer);
    const entries = forwardedFor.split(',');
    let leftMost = '';
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = hostOf(entries[i]!.trim());
      if (entry === '') continue;
      if (isIP(entry) === 0) return '';
      if (!this.trusted.has(entry)) return unmapAddress(entry);
      leftMost = entry;
    }
    return leftMost === '' ? unmapAddress(peer) : unmapAddress(leftMost);
  }
}

/** An X-Forwarded-For entry without the port some proxies add: `[2001:db8::1]:443` → `2001:db8::1`, `203.0.113.7:5050` → `203.0.113.7`. */
function hostOf(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end === -1 ? entry : entry.slice(1, end);
  }
  const colon = entry.indexOf(':');
  // One colon: an IPv4 address with a port. More: an IPv6 address, kept whole.
  return colon !== -1 && colon === entry.lastIndexOf(':') ? entry.slice(0, colon) : entry;
}

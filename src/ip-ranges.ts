import { BlockList, isIP } from 'node:net';
import { invalidField } from './errors';

/**
 * IP addresses and CIDR ranges as tokens' allow-lists and MM_TRUSTED_PROXIES give them: parsed and
 * normalised once (`parseIpRange`), compiled once into a `node:net` BlockList (`IpRanges`), then
 * matched per request through a small memo, because a BlockList check builds a SocketAddress (a few
 * microseconds) while a memo hit is one Map read, and the addresses a token is used from are few.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack listener reports for an IPv4
 * client) are the IPv4 address they carry, on both sides: a rule `10.0.0.0/8` admits
 * `::ffff:10.1.2.3`, and a rule written `::ffff:10.0.0.1` is stored as `10.0.0.1`.
 */

/** The most entries one allow-list holds. */
export const MAX_IP_RANGES = 100;

/** The longest text an entry may be (the longest IPv6 CIDR is 43 characters). */
const MAX_ENTRY_LENGTH = 64;

const MAPPED_PREFIX = /^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i;

/** An address and prefix length, normalised: IPv4 mapped addresses unmapped, IPv6 lower case. */
export interface IpRange {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

/**
 * `10.0.0.0/8`, `192.168.1.7`, `2001:db8::/32`, `::1`: one address or CIDR range, or undefined for
 * anything else (zone ids, ports, brackets, leading zeros, a prefix out of range). A bare address is
 * the range of that one address (/32, /128).
 */
export function parseIpRange(text: string): IpRange | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_ENTRY_LENGTH) return undefined;
  const slash = trimmed.indexOf('/');
  let address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (address.includes('%')) return undefined; // a zone id names an interface of one host, not a network
  let version = isIP(address);
  if (version === 0) return undefined;
  let prefix = version === 4 ? 32 : 128;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > (version === 4 ? 32 : 128)) return undefined;
  }
  if (version === 6) {
    address = address.toLowerCase();
    if (MAPPED_PREFIX.test(address) && prefix >= 96) {
      address = address.replace(MAPPED_PREFIX, '');
      prefix -= 96;
      version = 4;
    }
  }
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', prefix };
}

/** The canonical text of a range: the address alone for a single address, else `address/prefix`. */
export function formatIpRange(range: IpRange): string {
  return range.prefix === (range.family === 'ipv4' ? 32 : 128) ? range.address : `${range.address}/${range.prefix}`;
}

/**
 * Validates a list of addresses and ranges for `field`; answers their canonical texts, duplicates
 * removed, in the order given. Errors name the entry (addresses are not secrets) and what to write.
 */
export function requireIpRanges(entries: readonly string[], field: string): string[] {
  if (entries.length === 0) throw invalidField(field, 'give at least one address or CIDR range (e.g. 203.0.113.0/24), or leave it out to allow any address');
  if (entries.length > MAX_IP_RANGES) throw invalidField(field, `has ${entries.length} entries; the limit is ${MAX_IP_RANGES} (use wider CIDR ranges)`);
  const seen = new Set<string>();
  for (const entry of entries) {
    const range = typeof entry === 'string' ? parseIpRange(entry) : undefined;
    if (!range) {
      const shown = typeof entry === 'string' ? JSON.stringify(entry.length > 45 ? `${entry.slice(0, 45)}…` : entry) : 'a non-text entry';
      throw invalidField(field, `${shown} is not an IPv4 or IPv6 address or CIDR range; write e.g. 203.0.113.7, 203.0.113.0/24 or 2001:db8::/32`);
    }
    seen.add(formatIpRange(range));
  }
  return [...seen];
}

/** The address a socket or header gave, as the allow-lists compare it: IPv4-mapped IPv6 unmapped. */
export function unmapAddress(address: string): string {
  // Fast path: a plain IPv4 address, or an IPv6 one that cannot be mapped (no dot).
  return address.length > 7 && address.charCodeAt(0) === 58 /* ':' */ && MAPPED_PREFIX.test(address) ? address.slice(7) : address;
}

/** How many verdicts one compiled list remembers before it starts afresh. */
const MEMO_LIMIT = 256;

/**
 * A compiled list of ranges. `has` answers whether an address falls in any of them; verdicts are
 * memoised per address (bounded), so a steady client costs one Map read.
 */
export class IpRanges {
  // One list per family: a BlockList would let an IPv6 rule such as ::/0 match IPv4 clients (as
  // ::ffff:a.b.c.d); here IPv4 rules match IPv4 clients (mapped ones included) and IPv6 rules IPv6 ones.
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();
  private readonly memo = new Map<string, boolean>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseIpRange(entry);
      if (!range) throw new Error(`not an address or CIDR range: ${JSON.stringify(entry)}`);
      (range.family === 'ipv4' ? this.v4 : this.v6).addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** Whether `address` (as a socket or X-Forwarded-For gives it) is in one of the ranges; false for anything that is not an address. */
  has(address: string): boolean {
    let verdict = this.memo.get(address);
    if (verdict === undefined) {
      const plain = unmapAddress(address);
      const version = isIP(plain);
      verdict = version === 4 ? this.v4.check(plain, 'ipv4') : version === 6 && this.v6.check(plain, 'ipv6');
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(address, verdict);
    }
    return verdict;
  }
}

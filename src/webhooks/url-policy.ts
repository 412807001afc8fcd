import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { WebhookAddressPolicy } from '../config';
import { AppError, invalidField } from '../errors';

/**
 * Which receivers a webhook may reach. A webhook URL is checked twice: when it is set (its form,
 * and its address if it is an IP literal or a `localhost` name), and at every delivery against the
 * addresses its name resolves to then — the connection goes to exactly the address that was
 * checked, so a name that re-resolves elsewhere between check and connect (DNS rebinding) cannot
 * slip past. Redirects are never followed.
 *
 * The policy (MM_WEBHOOK_ADDRESSES) and why its default is `private`: an on-prem appliance's
 * receivers (chat bridges, ticketing, monitoring) usually live on the same private network, so
 * refusing private addresses would break the common case; what stays refused by default are the
 * addresses that reach the server itself or its host's infrastructure — loopback (other local
 * services) and link-local (169.254.169.254, the cloud metadata service, is the classic target).
 * `any` allows those too, for a receiver on this very machine; `public` allows only globally
 * routable addresses. Unspecified, multicast, broadcast and documentation ranges are never allowed.
 */
export type AddressClass = 'public' | 'private' | 'loopback' | 'link-local' | 'never';

const MAX_URL_LENGTH = 2048;

function blockList(entries: Array<[string, number, 'ipv4' | 'ipv6']>): net.BlockList {
  const list = new net.BlockList();
  for (const [address, prefix, family] of entries) list.addSubnet(address, prefix, family);
  return list;
}

const NEVER = blockList([
  ['0.0.0.0', 8, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
]);
const LOOPBACK = blockList([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const LINK_LOCAL = blockList([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
const PRIVATE = blockList([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
  // NAT64 prefixes embed an IPv4 address that may be private: never counted as public.
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
]);

/** What kind of address `ip` is (an IPv4 or IPv6 literal; IPv4-mapped IPv6 is judged as IPv4). */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const address = bare.split('%')[0]!; // an IPv6 zone (fe80::1%eth0) names an interface, not an address
  const family = net.isIP(address);
  if (family === 0) return 'never';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (family === 4 && address === '255.255.255.255') return 'never';
  if (NEVER.check(address, type)) return 'never';
  if (LOOPBACK.check(address, type)) return 'loopback';
  if (LINK_LOCAL.check(address, type)) return 'link-local';
  if (PRIVATE.check(address, type)) return 'private';
  return 'public';
}

/** Whether `policy` lets a webhook reach an address of class `kind`. */
export function policyAllows(policy: WebhookAddressPolicy, kind: AddressClass): boolean {
  switch (kind) {
    case 'public':
      return true;
    case 'private':
      return policy !== 'public';
    case 'loopback':
    case 'link-local':
      return policy === 'any';
    case 'never':
      return false;
  }
}

const DESCRIBE: Record<AddressClass, string> = {
  public: 'a public address',
  private: 'a private-network address',
  loopback: 'a loopback address (this machine)',
  'link-local': 'a link-local address (such as the cloud metadata service)',
  never: 'an unspecified, multicast, broadcast or reserved address',
};

/** The sentence that says why an address is refused and what the operator can do. */
export function refusalFor(host: string, address: string, kind: AddressClass, policy: WebhookAddressPolicy): string {
  const where = host === address ? address : `${host} (${address})`;
  const fix =
    kind === 'never'
      ? 'no setting allows it'
      : kind === 'private'
        ? 'set MM_WEBHOOK_ADDRESSES=private on the server to allow private networks'
        : 'set MM_WEBHOOK_ADDRESSES=any on the server to allow receivers on this machine or link-local addresses';
  return `${where} is ${DESCRIBE[kind]}, which webhooks may not reach under MM_WEBHOOK_ADDRESSES=${policy}; ${fix}`;
}

function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Checks a webhook URL as it is set: http or https, a host, no credentials or fragment, at most
 * 2048 characters; an IP literal (or a `localhost` name) must be allowed by `policy`. Answers the
 * URL in its normalised form. Errors are 422 `validation_failed` naming `url`.
 */
export function checkWebhookUrl(text: string, policy: WebhookAddressPolicy): string {
  const trimmed = text.trim();
  if (trimmed === '') throw invalidField('url', 'is required: the receiver\'s address, such as https://hooks.example.com/mechamental');
  if (trimmed.length > MAX_URL_LENGTH) throw invalidField('url', `is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw invalidField('url', `"${trimmed.slice(0, 80)}" is not a URL; give an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField('url', `must use http or https (got ${url.protocol.replace(/:$/, '')})`);
  if (url.username !== '' || url.password !== '') {
    throw invalidField('url', 'must not contain a user name or password: the receiver authenticates deliveries by their webhook-signature header');
  }
  if (url.hash !== '') throw invalidField('url', 'must not contain a #fragment (it is never sent)');
  if (url.hostname === '') throw invalidField('url', 'has no host');
  const host = url.hostname;
  const literal = host.startsWith('[') ? host.slice(1, -1) : host;
  if (net.isIP(literal) !== 0) {
    const kind = classifyAddress(literal);
    if (!policyAllows(policy, kind)) throw invalidField('url', refusalFor(literal, literal, kind, policy));
  } else if (isLocalhostName(host) && !policyAllows(policy, 'loopback')) {
    throw invalidField('url', refusalFor(host, '127.0.0.1', 'loopback', policy));
  }
  return url.toString();
}

/** An address the delivery may connect to: checked against the policy, pinned for the connection. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves `host` (or takes its IP literal) and checks every address against `policy`: all must be
 * allowed (a name that mixes public and internal answers is refused). Throws AppError
 * `validation_failed` with the reason; a name that does not resolve throws `unavailable`.
 */
export async function resolveAllowed(host: string, policy: WebhookAddressPolicy): Promise<CheckedAddress> {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = net.isIP(literal);
  let addresses: Array<{ address: string; family: number }>;
  if (family !== 0) addresses = [{ address: literal, family }];
  else {
    try {
      addresses = await lookup(literal, { all: true, verbatim: true });
    } catch (error) {
      throw new AppError('unavailable', `cannot resolve ${literal}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (addresses.length === 0) throw new AppError('unavailable', `cannot resolve ${literal}: no addresses`);
  }
  for (const entry of addresses) {
    const kind = classifyAddress(entry.address);
    if (!policyAllows(policy, kind)) throw new AppError('validation_failed', refusalFor(literal, entry.address, kind, policy));
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

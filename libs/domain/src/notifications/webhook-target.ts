import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Where a webhook may not point: the Gridflow hosts themselves, the private networks they sit in and the cloud
 * metadata service. Refused unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is on (development, tests, intranet receivers).
 */
export type ForbiddenKind = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved';

interface Range {
  base: bigint;
  bits: number;
  kind: ForbiddenKind;
}

/** The 16 bytes of an IPv6 address as one number; null when it is not one. */
function ipv6ToBigInt(address: string): bigint | null {
  let text = address.toLowerCase().replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToNumber(v4[1]);
    if (n === null) return null;
    text = `${text.slice(0, -v4[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

function ipv4ToNumber(address: string): number | null {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

const v4 = (cidr: string, kind: ForbiddenKind): Range => {
  const [ip, bits] = cidr.split('/');
  return { base: BigInt(ipv4ToNumber(ip) ?? 0), bits: Number(bits), kind };
};

const v6 = (cidr: string, kind: ForbiddenKind): Range => {
  const [ip, bits] = cidr.split('/');
  return { base: ipv6ToBigInt(ip) ?? 0n, bits: Number(bits), kind };
};

const IPV4: Range[] = [
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'private'), // carrier-grade NAT
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'), // cloud metadata (169.254.169.254) lives here
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // and 255.255.255.255
];

const IPV6: Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fc00::/7', 'private'),
  v6('fec0::/10', 'private'), // deprecated site-local
  v6('fe80::/10', 'link-local'),
  v6('ff00::/8', 'multicast'),
];

const within = (n: bigint, r: Range, width: number) => n >> BigInt(width - r.bits) === r.base >> BigInt(width - r.bits);

/** IPv4 addresses carried inside IPv6 ones (mapped, compatible, NAT64, 6to4) are judged as the IPv4 they carry. */
function embeddedIpv4(n: bigint): number | null {
  const low32 = Number(n & 0xffffffffn);
  if (n >> 32n === 0xffffn) return low32; // ::ffff:a.b.c.d
  if (n >> 32n === 0n && n > 1n) return low32; // ::a.b.c.d (deprecated)
  if (n >> 32n === 0x0064ff9b0000000000000000n) return low32; // 64:ff9b::a.b.c.d
  if (n >> 112n === 0x2002n) return Number((n >> 80n) & 0xffffffffn); // 2002:aabb:ccdd::
  return null;
}

function classifyIpv4(n: number): ForbiddenKind | null {
  return IPV4.find((r) => within(BigInt(n), r, 32))?.kind ?? null;
}

/** What kind of forbidden address `address` (an IPv4 or IPv6 literal) is, or null when it is a public one. */
export function forbiddenAddressKind(address: string): ForbiddenKind | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) return classifyIpv4(ipv4ToNumber(bare) ?? 0);
  if (family !== 6) return 'reserved'; // not an address at all: never connect to it
  const n = ipv6ToBigInt(bare);
  if (n === null) return 'reserved';
  const inner = embeddedIpv4(n);
  if (inner !== null) return classifyIpv4(inner) ?? (n >> 32n === 0n ? 'reserved' : null);
  return IPV6.find((r) => within(n, r, 128))?.kind ?? null;
}

/** A webhook target that must not be contacted; `reason` says which address and why. */
export class WebhookTargetRefused extends Error {
  readonly code = 'EWEBHOOKTARGET';
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookTargetRefused';
  }
}

/** Throws WebhookTargetRefused when `address`, which `host` names, is a forbidden one. */
export function assertPublicAddress(host: string, address: string): void {
  const kind = forbiddenAddressKind(address);
  if (!kind) return;
  const via = host.replace(/^\[|\]$/g, '') === address ? '' : ` (${host} resolves to it)`;
  throw new WebhookTargetRefused(`${address} is a ${kind} address${via}`);
}

/** `localhost` and `*.localhost` always mean this machine (RFC 6761), whatever a resolver says. */
const isLocalhostName = (host: string) => /(^|\.)localhost\.?$/i.test(host);

/**
 * Refuses a URL host that is, or resolves to, a forbidden address: an address literal is judged as written, a name
 * by every address the resolver returns (`localhost` and `*.localhost` even when it returns none). Any other name
 * that does not resolve is let through: the send-time check, which judges the address actually connected to,
 * still applies.
 */
export async function assertPublicHost(hostname: string): Promise<void> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return assertPublicAddress(host, host);
  if (isLocalhostName(host) && !/^localhost\.?$/i.test(host))
    throw new WebhookTargetRefused(`${host} is a loopback name`);
  let addresses: { address: string }[] = [];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    // unresolvable now
  }
  for (const a of addresses) assertPublicAddress(host, a.address);
  if (isLocalhostName(host)) throw new WebhookTargetRefused(`${host} is a loopback name`);
}

/**
 * SSRF guard for provider base URLs (SPEC §6). Cloud metadata endpoints and link-local addresses
 * are always refused for user-entered URLs. Loopback, private and every other address that is not
 * global unicast are refused too unless explicitly allowed
 * (`UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS=true`, or an operator-declared provider such as
 * `OLLAMA_BASE_URL`), since Ollama / vLLM / LM Studio often run on the local network. The built-in
 * simulator is exempt: its provider rows carry an explicit allow flag. Both rules hold when a URL
 * is saved and again at every new connection (`guardedLookup`).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a URL was refused, in words for the admin. */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; message: string };

const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

type Kind = 'blocked' | 'private' | 'public';

const cidrs = (list: string[]) => list.map((c) => ipaddr.parseCIDR(c));
const inAny = (addr: ipaddr.IPv4 | ipaddr.IPv6, list: [ipaddr.IPv4 | ipaddr.IPv6, number][]) =>
  list.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));

const BLOCKED_V4 = cidrs([
  '169.254.0.0/16', // link-local, including 169.254.169.254 (AWS, GCP, Azure IMDS, OCI)
  '0.0.0.0/8',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '100.100.100.200/32', // Alibaba Cloud metadata
  '168.63.129.16/32', // Azure WireServer: a public-looking address that serves the VM's agent
  '192.0.0.192/32', // Oracle Cloud legacy metadata
]);
const BLOCKED_V6 = cidrs([
  '::/128', // unspecified
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated, still routed by some stacks)
  'ff00::/8', // multicast
  'fd00:ec2::254/128', // AWS instance metadata over IPv6
  // Teredo embeds its IPv4 addresses obfuscated; no provider is reached through it.
  '2001::/32',
]);
// Global IPv6 unicast is all in 2000::/3; the rest is reserved (ipaddr.js names only part of it).
const GLOBAL_V6 = cidrs(['2000::/3']);

/**
 * Private: anything ipaddr.js does not call `unicast` (loopback, RFC 1918, CGNAT, benchmarking
 * 198.18.0.0/15, documentation 2001:db8::/32, discard 100::/64, ULA fc00::/7, NAT64 local-use
 * 64:ff9b:1::/48 …). None of it is a public provider, and each can name a machine of our network.
 */
const notGlobal = (a: ipaddr.IPv4 | ipaddr.IPv6) => a.range() !== 'unicast';

function classifyV4(a: ipaddr.IPv4): Kind {
  if (inAny(a, BLOCKED_V4)) return 'blocked';
  if (notGlobal(a)) return 'private';
  return 'public';
}

/**
 * The IPv4 address an IPv6 address carries and reaches, for the forms that translate to IPv4:
 * IPv4-mapped (::ffff:a.b.c.d, in any spelling: the URL parser rewrites it to hex), SIIT
 * (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4
 * (2002:aabb:ccdd::). Each is a way to name a loopback or metadata address in IPv6.
 */
function embeddedV4(a: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const w = a.parts;
  const tail = () => new ipaddr.IPv4([w[6]! >> 8, w[6]! & 0xff, w[7]! >> 8, w[7]! & 0xff]);
  if (a.isIPv4MappedAddress()) return a.toIPv4Address();
  const range = a.range();
  // NAT64's well-known prefix 64:ff9b::/96 (its local-use 64:ff9b:1::/48 is a private range below).
  const wellKnownNat64 = range === 'rfc6052' && w.slice(2, 6).every((x) => x === 0);
  if (range === 'rfc6145' || wellKnownNat64) return tail();
  if (range === '6to4') return new ipaddr.IPv4([w[1]! >> 8, w[1]! & 0xff, w[2]! >> 8, w[2]! & 0xff]);
  // IPv4-compatible: the first 96 bits zero (:: and ::1 are their own cases).
  if (w.slice(0, 6).every((x) => x === 0) && (w[6] !== 0 || w[7]! > 1)) return tail();
  return undefined;
}

/** Classifies an IP address: `blocked` (never), `private` (only when allowed) or `public`. */
export function classifyAddress(ip: string): Kind {
  // A zone index (fe80::1%eth0) names a local interface: link-local by definition.
  if (ip.includes('%')) return 'blocked';
  if (!ipaddr.isValid(ip)) return 'blocked';
  const a = ipaddr.parse(ip);
  if (a.kind() === 'ipv4') return classifyV4(a as ipaddr.IPv4);
  const v6 = a as ipaddr.IPv6;
  const v4 = embeddedV4(v6);
  if (v4) return classifyV4(v4);
  if (inAny(v6, BLOCKED_V6)) return 'blocked';
  if (notGlobal(v6) || !inAny(v6, GLOBAL_V6)) return 'private';
  return 'public';
}

/** Checks a provider base URL; resolves the host so a name pointing at a forbidden address is caught. */
export async function checkProviderUrl(
  raw: string,
  opts: {
    allowPrivate: boolean;
    /** Accept a name that does not resolve now (operator config read offline). */ allowUnresolved?: boolean;
  },
): Promise<UrlVerdict> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: `baseUrl "${raw}" is not a valid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: 'baseUrl must use http or https' };
  }
  if (url.username || url.password) {
    return { ok: false, message: 'baseUrl must not contain credentials; set the API key instead' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host))
    return { ok: false, message: `baseUrl host ${host} is a cloud metadata endpoint` };
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      if (opts.allowUnresolved) return { ok: true, url };
      return { ok: false, message: `baseUrl host ${host} does not resolve` };
    }
  }
  for (const a of addresses) {
    const kind = classifyAddress(a);
    if (kind === 'blocked') {
      return {
        ok: false,
        message: `baseUrl host ${host} resolves to ${a}, a forbidden address (link-local, metadata, unspecified or multicast)`,
      };
    }
    if (kind === 'private' && !opts.allowPrivate) {
      return {
        ok: false,
        message: `baseUrl host ${host} resolves to private address ${a}; set UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS=true to allow local providers`,
      };
    }
  }
  return { ok: true, url };
}

/** `dns.lookup`'s shape, for an injected resolver in tests. */
export type Lookup = typeof dnsLookup;

/** Options of `guardedLookup`. */
export interface GuardOptions {
  /** The connection may reach private addresses (the provider's allow flag, or the deployment's). */
  allowPrivate: boolean;
  /** Resolves names; `dns.lookup` unless a test says what a name resolves to. */
  resolve?: Lookup;
}

/** Why a connection to `hostname` at `address` is refused, or undefined when it may go. */
function connectRefusal(hostname: string, address: string, allowPrivate: boolean): string | undefined {
  const kind = classifyAddress(address);
  if (kind === 'blocked')
    return `refused to connect to ${hostname}: it resolves to ${address}, a forbidden address (link-local, metadata, unspecified or multicast)`;
  if (kind === 'private' && !allowPrivate)
    return `refused to connect to ${hostname}: it resolves to ${address}, a private address this provider may not reach (allowed for an operator-declared provider with allowPrivate, or with UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS=true)`;
  return undefined;
}

/**
 * A `lookup` for a provider agent that refuses, at connect time, the addresses a saved URL may not
 * reach: link-local and metadata always, private ones unless `allowPrivate`. The base URL was
 * checked when it was saved, but a name can resolve differently later (DNS rebinding); the one
 * check that cannot be raced is the one on the address being connected to. An IP literal is not
 * looked up (Node connects to it directly): `literalRefusal` applies the same rule to it.
 */
export function guardedLookup(opts: GuardOptions): LookupFunction {
  const resolve = opts.resolve ?? dnsLookup;
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      // Any refused address refuses the name: happy eyeballs would try the next one otherwise.
      for (const a of list) {
        const refusal = connectRefusal(hostname, a.address, opts.allowPrivate);
        if (refusal) return callback(Object.assign(new Error(refusal), { code: 'EADDRNOTAVAIL' }), '', 0);
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * The connect-time refusal of an IP-literal host (`127.0.0.1`, `::1`), or undefined for a name or
 * an address the rule lets through. Node never calls `lookup` for a literal, so `guardedLookup`
 * cannot see it; without this, a URL saved as a private literal while
 * `UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS` was on stayed reachable after it was turned off. Same
 * message as the name path (thrown with its code, EADDRNOTAVAIL), so logs, Test connection and
 * fallback read it alike.
 */
export function literalRefusal(host: string, allowPrivate: boolean): string | undefined {
  const address = host.replace(/^\[|\]$/g, '');
  return isIP(address) ? connectRefusal(address, address, allowPrivate) : undefined;
}

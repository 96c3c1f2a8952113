/**
 * SSRF guard for provider base URLs (SPEC §6). Cloud metadata endpoints and link-local addresses
 * are always refused for user-entered URLs. Loopback and private ranges are refused too unless
 * explicitly allowed (`UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS=true`, or an operator-declared
 * provider such as `OLLAMA_BASE_URL`), since Ollama / vLLM / LM Studio often run on the local
 * network. The built-in simulator is exempt: its provider rows carry an explicit allow flag.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Why a URL was refused, in words for the admin. */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; message: string };

const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

function inV4(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(base ?? '0.0.0.0') & mask);
}

/** Classifies an IP address: `blocked` (never), `private` (only when allowed) or `public`. */
export function classifyAddress(ip: string): 'blocked' | 'private' | 'public' {
  let addr = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (mapped?.[1]) addr = mapped[1];
  if (isIP(addr) === 4) {
    if (
      ['169.254.0.0/16', '0.0.0.0/8', '224.0.0.0/4', '240.0.0.0/4', '100.100.100.200/32'].some((c) =>
        inV4(addr, c),
      )
    ) {
      return 'blocked';
    }
    if (
      ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'].some((c) =>
        inV4(addr, c),
      )
    ) {
      return 'private';
    }
    return 'public';
  }
  if (addr === '::' || /^fe[89ab]/.test(addr) || addr.startsWith('ff') || addr === 'fd00:ec2::254')
    return 'blocked';
  if (addr === '::1' || /^f[cd]/.test(addr)) return 'private';
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
        message: `baseUrl host ${host} resolves to ${a}, a link-local or metadata address`,
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

/** Server configuration, read once from the environment (tests build it directly). */
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** Everything the server reads from its environment. */
export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  /** UNDERSTUDY_SECRET: encryption key material for provider keys; else a generated file in dataDir. */
  secret?: string;
  /** UNDERSTUDY_CONFIG: bootstrap file (YAML or JSON). */
  configFile?: string;
  allowPrivateProviderUrls: boolean;
  /** Built-in simulator providers: `auto` runs them when no real provider is configured. */
  demo: 'auto' | 'on' | 'off';
  /** UNDERSTUDY_ALLOW_SIGNUP: anyone may create a new organization (multi-tenant hosting). */
  allowSignup: boolean;
  /** Public base URL, used in printed links and to decide on Secure cookies. */
  publicUrl?: string;
  logLevel: string;
  bodyLimitBytes: number;
  shutdownGraceMs: number;
  /**
   * UNDERSTUDY_SHUTDOWN_DELAY_MS: the minimum drain after SIGTERM/SIGINT, during which /readyz and
   * new work answer 503 even with nothing in flight, so a load balancer sees the instance leave
   * before its port closes (default 5000 on PostgreSQL, 0 on SQLite).
   */
  shutdownDelayMs: number;
  /** Keys and URLs of real providers from the environment. */
  envProviders: {
    openaiApiKey?: string;
    openaiBaseUrl?: string;
    anthropicApiKey?: string;
    geminiApiKey?: string;
    ollamaBaseUrl?: string;
    ollamaModels?: string[];
  };
  /** Folder of the built web UI, served when it exists. */
  webDist: string;
  /** The environment the bootstrap file's `${VAR}` references are resolved from. */
  env: NodeJS.ProcessEnv;
  /** Pause between the demo simulator's streamed chunks (UNDERSTUDY_DEMO_CHUNK_DELAY_MS). */
  demoChunkDelayMs: number;
  /** REDIS_URL: shared health memory and settings changes between instances. */
  redisUrl?: string;
  /** UNDERSTUDY_REDIS_PREFIX: prefix of Redis keys and channels (default `understudy:`). */
  redisPrefix: string;
  /** UNDERSTUDY_REDIS_TIMEOUT_MS: bound of every Redis call (default 100). */
  redisTimeoutMs: number;
  /** DATABASE_POOL_MAX: PostgreSQL connections per instance (default 10). */
  databasePoolMax: number;
  /** UNDERSTUDY_INSTANCE_ID: this instance's name (default host-pid-random). */
  instanceId?: string;
  /** UNDERSTUDY_CIRCUIT_COOLDOWN_MS: first cooldown of an open circuit before a probe (default 10000). */
  circuitCooldownMs?: number;
  /**
   * UNDERSTUDY_HEARTBEAT_MS: how often an instance beats in the shared database (default 1000); an
   * instance silent for 6 beats is gone and its answers in progress are marked interrupted.
   */
  heartbeatMs: number;
  /**
   * UNDERSTUDY_TRUST_PROXY: whose X-Forwarded-For / -Proto / -Host are believed (Fastify's
   * `trustProxy`): `true` for any peer, `false` for none, or a comma-separated list of addresses,
   * CIDRs and the names `loopback`, `linklocal`, `uniquelocal` (default `loopback`).
   */
  trustProxy: boolean | string;
}

/**
 * An environment the server cannot start with. Its message is one line naming every bad variable,
 * its value and what is expected: `main()` prints it as is, without a stack.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
  }
}

/** Names proxy-addr (Fastify's trustProxy) accepts for ranges of addresses. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * UNDERSTUDY_TRUST_PROXY as Fastify's `trustProxy`, or what was expected (after the variable's
 * name). Checked here so that a typo stops the start with a message instead of trusting nobody
 * (or, worse, being read as something else).
 */
function trustProxy(v: string): boolean | string | { expected: string } {
  const t = v.trim() || 'loopback';
  if (/^(true|yes|on|all)$/i.test(t)) return true;
  if (/^(false|no|off|none)$/i.test(t)) return false;
  const entries = t
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const bad = entries.find(
    (e) => !(PROXY_RANGES.has(e) || (e.includes('/') ? ipaddr.isValidCIDR(e) : ipaddr.isValid(e))),
  );
  if (bad === undefined) return entries.join(',');
  return {
    expected: `must be true, false, or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal; "${bad}" is none of these`,
  };
}

/** UNDERSTUDY_TRUST_PROXY as Fastify's `trustProxy` (unset: `loopback`); throws on a bad value. */
export function parseTrustProxy(v: string | undefined): boolean | string {
  const out = trustProxy(v ?? '');
  if (typeof out === 'object') throw new Error(`UNDERSTUDY_TRUST_PROXY ${out.expected}`);
  return out;
}

// Each variable's schema takes the raw string (or undefined) and yields its value; an issue's
// message follows the variable's name ("PORT must be …"). Empty or blank is unset: an
// EnvironmentFile or a compose file often carries `PORT=` for "not set".
const unset = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
const raw = z.string().optional().transform(unset);

/** A rule: a parser returning the value, or a string saying what was expected. */
function rule<T>(parse: (v: string) => T | { expected: string }) {
  return raw.transform((v, ctx): T | undefined => {
    if (v === undefined) return undefined;
    const out = parse(v);
    if (out !== null && typeof out === 'object' && 'expected' in out) {
      ctx.addIssue({ code: 'custom', message: out.expected });
      return z.NEVER;
    }
    return out as T;
  });
}

/** A whole number in [min, max]; digits only, so `4MB`, `20s`, `1e3` and `0x10` are refused. */
const whole = (min: number, max: number, what: string) =>
  rule((v) => {
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : { expected: `must be ${what}, got "${v}"` };
  });

const positive = (unit: string) => whole(1, Number.MAX_SAFE_INTEGER, `a whole number from 1 (${unit})`);
const milliseconds = (min: 0 | 1) =>
  whole(min, Number.MAX_SAFE_INTEGER, `a whole number of milliseconds (${min} or more, no unit)`);

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;
const flag = rule((v) =>
  TRUE.test(v) ? true : FALSE.test(v) ? false : { expected: `must be true or false, got "${v}"` },
);

/**
 * A URL with one of these schemes. A refused value is echoed only when `echo` says it holds no
 * secret (a database or Redis URL may hold a password).
 */
const url = (schemes: string[], opts: { hint?: string; echo?: boolean } = {}) =>
  rule((v) => {
    let protocol: string | undefined;
    try {
      protocol = new URL(v).protocol;
    } catch {
      // not a URL at all: said below
    }
    if (protocol && schemes.includes(protocol)) return v;
    const names = schemes.map((s) => `${s}//`);
    const expected = `must be a${/^[aeiouh]/.test(names[0] ?? '') ? 'n' : ''} ${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names.at(-1)} URL${opts.hint ?? ''}`;
    const got = opts.echo ? `"${v}"` : protocol ? `a ${protocol} URL` : 'something that is not a URL';
    return { expected: `${expected}, got ${got}` };
  });
/** An http(s) URL that holds no secret, echoed in the message. */
const publicUrl = url(['http:', 'https:'], { echo: true });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every environment variable the server reads, checked in one place. */
const ENV = z.object({
  PORT: whole(0, 65535, 'a port number from 0 to 65535'),
  HOST: raw,
  UNDERSTUDY_DATA_DIR: raw,
  DATABASE_URL: url(['postgres:', 'postgresql:'], { hint: ' (leave it unset for SQLite)' }),
  UNDERSTUDY_SECRET: raw,
  UNDERSTUDY_CONFIG: raw,
  UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: flag,
  UNDERSTUDY_DEMO: rule((v) =>
    /^auto$/i.test(v)
      ? ('auto' as const)
      : TRUE.test(v)
        ? ('on' as const)
        : FALSE.test(v)
          ? ('off' as const)
          : { expected: `must be auto, on or off, got "${v}"` },
  ),
  UNDERSTUDY_ALLOW_SIGNUP: flag,
  UNDERSTUDY_PUBLIC_URL: publicUrl,
  LOG_LEVEL: rule((v) =>
    LOG_LEVELS.includes(v.toLowerCase())
      ? v.toLowerCase()
      : { expected: `must be one of ${LOG_LEVELS.join(', ')}, got "${v}"` },
  ),
  UNDERSTUDY_BODY_LIMIT_BYTES: whole(
    1,
    Number.MAX_SAFE_INTEGER,
    'a number of bytes (a whole number, no unit)',
  ),
  UNDERSTUDY_SHUTDOWN_GRACE_MS: milliseconds(0),
  UNDERSTUDY_SHUTDOWN_DELAY_MS: milliseconds(0),
  OPENAI_API_KEY: raw,
  OPENAI_BASE_URL: publicUrl,
  ANTHROPIC_API_KEY: raw,
  GEMINI_API_KEY: raw,
  OLLAMA_BASE_URL: publicUrl,
  OLLAMA_MODELS: raw,
  UNDERSTUDY_DEMO_CHUNK_DELAY_MS: milliseconds(0),
  UNDERSTUDY_WEB_DIST: raw,
  REDIS_URL: url(['redis:', 'rediss:']),
  UNDERSTUDY_REDIS_PREFIX: raw,
  UNDERSTUDY_REDIS_TIMEOUT_MS: milliseconds(1),
  DATABASE_POOL_MAX: positive('connections'),
  UNDERSTUDY_INSTANCE_ID: raw,
  UNDERSTUDY_CIRCUIT_COOLDOWN_MS: milliseconds(1),
  UNDERSTUDY_HEARTBEAT_MS: milliseconds(1),
  UNDERSTUDY_TRUST_PROXY: rule(trustProxy),
  // Read by the /metrics route from `config.env`; listed so that --help and the docs check know it.
  UNDERSTUDY_METRICS_TOKEN: raw,
});

/** The name of an environment variable the server reads. */
export type EnvVariable = keyof typeof ENV.shape;

/** Every environment variable the server reads, in the schema's order (for --help and the docs check). */
export const ENV_VARIABLES = Object.keys(ENV.shape) as readonly EnvVariable[];

/**
 * Reads the configuration from environment variables; a ConfigError names every bad one. An empty
 * value is the default (PORT= is 8080, not a random port).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ServerConfig {
  const parsed = ENV.safeParse(env);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.map(String).join('.')} ${i.message}`));
  const e = parsed.data;
  return {
    port: e.PORT ?? 8080,
    host: e.HOST ?? '0.0.0.0',
    dataDir: resolve(cwd, e.UNDERSTUDY_DATA_DIR ?? 'data'),
    databaseUrl: e.DATABASE_URL,
    secret: e.UNDERSTUDY_SECRET,
    configFile: e.UNDERSTUDY_CONFIG && resolve(cwd, e.UNDERSTUDY_CONFIG),
    allowPrivateProviderUrls: e.UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS ?? false,
    demo: e.UNDERSTUDY_DEMO ?? 'auto',
    allowSignup: e.UNDERSTUDY_ALLOW_SIGNUP ?? false,
    publicUrl: e.UNDERSTUDY_PUBLIC_URL,
    logLevel: e.LOG_LEVEL ?? 'info',
    bodyLimitBytes: e.UNDERSTUDY_BODY_LIMIT_BYTES ?? 4 * 1024 * 1024,
    shutdownGraceMs: e.UNDERSTUDY_SHUTDOWN_GRACE_MS ?? 20_000,
    // PostgreSQL is how several instances run behind a load balancer, which needs a few seconds
    // (HAProxy's `inter 2s fall 2`: 4 s) to read the 503; one SQLite instance has no other to send
    // traffic to, so a wait there would only lengthen every restart.
    shutdownDelayMs: e.UNDERSTUDY_SHUTDOWN_DELAY_MS ?? (e.DATABASE_URL ? 5000 : 0),
    envProviders: {
      openaiApiKey: e.OPENAI_API_KEY,
      openaiBaseUrl: e.OPENAI_BASE_URL,
      anthropicApiKey: e.ANTHROPIC_API_KEY,
      geminiApiKey: e.GEMINI_API_KEY,
      ollamaBaseUrl: e.OLLAMA_BASE_URL,
      ollamaModels: e.OLLAMA_MODELS?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    },
    env,
    demoChunkDelayMs: e.UNDERSTUDY_DEMO_CHUNK_DELAY_MS ?? 40,
    webDist: resolve(cwd, e.UNDERSTUDY_WEB_DIST ?? 'packages/web/dist'),
    redisUrl: e.REDIS_URL,
    redisPrefix: e.UNDERSTUDY_REDIS_PREFIX ?? 'understudy:',
    redisTimeoutMs: e.UNDERSTUDY_REDIS_TIMEOUT_MS ?? 100,
    databasePoolMax: e.DATABASE_POOL_MAX ?? 10,
    instanceId: e.UNDERSTUDY_INSTANCE_ID,
    circuitCooldownMs: e.UNDERSTUDY_CIRCUIT_COOLDOWN_MS,
    heartbeatMs: e.UNDERSTUDY_HEARTBEAT_MS ?? 1000,
    trustProxy: e.UNDERSTUDY_TRUST_PROXY ?? 'loopback',
  };
}

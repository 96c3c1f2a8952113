/** Server configuration, read once from the environment (tests build it directly). */
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';

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

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
const nonEmpty = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : undefined);

/** A positive integer from the environment, or undefined when unset. */
function positive(v: string | undefined, name: string): number | undefined {
  const t = nonEmpty(v);
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

/** Names proxy-addr (Fastify's trustProxy) accepts for ranges of addresses. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * UNDERSTUDY_TRUST_PROXY as Fastify's `trustProxy`. Checked here so that a typo stops the start
 * with a message instead of trusting nobody (or, worse, being read as something else).
 */
export function parseTrustProxy(v: string | undefined): boolean | string {
  const t = nonEmpty(v) ?? 'loopback';
  if (/^(true|yes|on|all)$/i.test(t)) return true;
  if (/^(false|no|off|none)$/i.test(t)) return false;
  const entries = t
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of entries) {
    const ok = PROXY_RANGES.has(e) || (e.includes('/') ? ipaddr.isValidCIDR(e) : ipaddr.isValid(e));
    if (!ok)
      throw new Error(
        `UNDERSTUDY_TRUST_PROXY must be true, false, or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal; "${e}" is none of these`,
      );
  }
  return entries.join(',');
}

/** Reads the configuration from environment variables. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ServerConfig {
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const demo = (nonEmpty(env.UNDERSTUDY_DEMO) ?? 'auto').toLowerCase();
  return {
    port,
    host: nonEmpty(env.HOST) ?? '0.0.0.0',
    dataDir: resolve(cwd, nonEmpty(env.UNDERSTUDY_DATA_DIR) ?? 'data'),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    secret: nonEmpty(env.UNDERSTUDY_SECRET),
    configFile: nonEmpty(env.UNDERSTUDY_CONFIG) && resolve(cwd, env.UNDERSTUDY_CONFIG as string),
    allowPrivateProviderUrls: truthy(env.UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS),
    demo: truthy(demo) ? 'on' : /^(0|false|no|off)$/.test(demo) ? 'off' : 'auto',
    allowSignup: truthy(env.UNDERSTUDY_ALLOW_SIGNUP),
    publicUrl: nonEmpty(env.UNDERSTUDY_PUBLIC_URL),
    logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
    bodyLimitBytes: Number(env.UNDERSTUDY_BODY_LIMIT_BYTES ?? 4 * 1024 * 1024),
    shutdownGraceMs: Number(env.UNDERSTUDY_SHUTDOWN_GRACE_MS ?? 20_000),
    envProviders: {
      openaiApiKey: nonEmpty(env.OPENAI_API_KEY),
      openaiBaseUrl: nonEmpty(env.OPENAI_BASE_URL),
      anthropicApiKey: nonEmpty(env.ANTHROPIC_API_KEY),
      geminiApiKey: nonEmpty(env.GEMINI_API_KEY),
      ollamaBaseUrl: nonEmpty(env.OLLAMA_BASE_URL),
      ollamaModels: nonEmpty(env.OLLAMA_MODELS)
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    },
    env,
    demoChunkDelayMs: Number(env.UNDERSTUDY_DEMO_CHUNK_DELAY_MS ?? 40),
    webDist: resolve(cwd, nonEmpty(env.UNDERSTUDY_WEB_DIST) ?? 'packages/web/dist'),
    redisUrl: nonEmpty(env.REDIS_URL),
    redisPrefix: nonEmpty(env.UNDERSTUDY_REDIS_PREFIX) ?? 'understudy:',
    redisTimeoutMs: positive(env.UNDERSTUDY_REDIS_TIMEOUT_MS, 'UNDERSTUDY_REDIS_TIMEOUT_MS') ?? 100,
    databasePoolMax: positive(env.DATABASE_POOL_MAX, 'DATABASE_POOL_MAX') ?? 10,
    instanceId: nonEmpty(env.UNDERSTUDY_INSTANCE_ID),
    circuitCooldownMs: positive(env.UNDERSTUDY_CIRCUIT_COOLDOWN_MS, 'UNDERSTUDY_CIRCUIT_COOLDOWN_MS'),
    heartbeatMs: positive(env.UNDERSTUDY_HEARTBEAT_MS, 'UNDERSTUDY_HEARTBEAT_MS') ?? 1000,
    trustProxy: parseTrustProxy(env.UNDERSTUDY_TRUST_PROXY),
  };
}

/**
 * The server's command line, and what it says when a start fails. Its settings come from the
 * environment only (one way to configure an instance, the same under systemd, Docker and
 * Kubernetes); the command line says so: `--help` lists the variables, and any other argument
 * stops the start instead of being ignored (`--port 9000` would otherwise listen on 8080).
 */
import { ENV_VARIABLES, type EnvVariable, type ServerConfig } from './config.js';

/** One line per variable the server reads: its default, then what it does (README has the details). */
const ENV_HELP: Record<EnvVariable, string> = {
  PORT: '8080. The port to listen on',
  HOST: '0.0.0.0. The address to listen on (127.0.0.1: this machine only)',
  UNDERSTUDY_DATA_DIR: 'data. Where SQLite and the generated secret.key live',
  DATABASE_URL: 'unset: SQLite. postgres://… for PostgreSQL (needed for several instances)',
  UNDERSTUDY_SECRET: 'data/secret.key, generated. Encrypts provider keys; the same on every instance',
  UNDERSTUDY_CONFIG: 'unset. A bootstrap file: organization, admin, providers, models, API keys',
  UNDERSTUDY_ALLOW_PRIVATE_PROVIDER_URLS: 'false. Let every provider use a loopback or private URL',
  UNDERSTUDY_DEMO: 'auto. The built-in provider simulator: auto (when no provider is set up), on, off',
  UNDERSTUDY_ALLOW_SIGNUP: 'false. Let anyone create a new organization',
  UNDERSTUDY_PUBLIC_URL: 'unset. The URL users open (https://… makes cookies Secure)',
  LOG_LEVEL: 'info. fatal, error, warn, info, debug, trace or silent',
  UNDERSTUDY_BODY_LIMIT_BYTES: '4194304. The largest request body, in bytes',
  UNDERSTUDY_SHUTDOWN_GRACE_MS: '20000. How long answers in flight get to finish on SIGTERM',
  UNDERSTUDY_SHUTDOWN_DELAY_MS: '5000 on PostgreSQL, 0 on SQLite. The minimum drain on SIGTERM',
  OPENAI_API_KEY: 'unset. Adds OpenAI as a provider',
  OPENAI_BASE_URL: 'https://api.openai.com/v1. Another OpenAI-compatible endpoint',
  ANTHROPIC_API_KEY: 'unset. Adds Anthropic as a provider',
  GEMINI_API_KEY: 'unset. Adds Google Gemini as a provider',
  OLLAMA_BASE_URL: 'unset. Adds an Ollama server as a provider (http://127.0.0.1:11434)',
  OLLAMA_MODELS: 'llama3.1. The Ollama models to offer, comma-separated',
  UNDERSTUDY_DEMO_CHUNK_DELAY_MS: "40. The demo simulator's pause between streamed chunks",
  UNDERSTUDY_WEB_DIST: 'packages/web/dist. The built web app',
  REDIS_URL: 'unset: health memory per instance. redis://… shares it between instances',
  UNDERSTUDY_REDIS_PREFIX: 'understudy:. The prefix of every Redis key',
  UNDERSTUDY_REDIS_TIMEOUT_MS: '100. The bound of any Redis call',
  DATABASE_POOL_MAX: '10. PostgreSQL connections per instance',
  UNDERSTUDY_INSTANCE_ID: "host-pid-random. The instance's name in logs and /readyz",
  UNDERSTUDY_CIRCUIT_COOLDOWN_MS: '10000. The first cooldown of an open circuit',
  UNDERSTUDY_HEARTBEAT_MS: '1000. The instance heartbeat (silent for 6 beats: gone)',
  UNDERSTUDY_TRUST_PROXY: 'loopback. The proxies whose X-Forwarded-For is believed (address, subnet, true)',
  UNDERSTUDY_METRICS_TOKEN: 'unset: local scrapes only. The bearer token for /metrics',
};

/** `--help`'s text: how to configure the server, with every variable it reads on a line of its own. */
export function helpText(): string {
  const width = Math.max(...ENV_VARIABLES.map((n) => n.length));
  return [
    'Usage: node dist/understudy.mjs   (or npm start, which builds first)',
    '',
    'Understudy, a team AI chat server whose Mates answer from a backup model when a provider fails.',
    'It takes no arguments: set these environment variables (empty or unset: the default given).',
    'Stop it with SIGTERM (drains, then exits) or Ctrl+C. Details: README.md and docs/deployment.md.',
    '',
    ...ENV_VARIABLES.map((n) => `  ${n.padEnd(width)}  ${ENV_HELP[n]}`),
    '',
  ].join('\n');
}

/** What the command line asks for: a server, the help, or nothing it understands. */
export type CommandLine = { kind: 'run' } | { kind: 'help' } | { kind: 'refused'; message: string };

/** Reads the arguments after the script's name. */
export function readCommandLine(args: readonly string[]): CommandLine {
  if (args.length === 0) return { kind: 'run' };
  if (args.some((a) => a === '--help' || a === '-h')) return { kind: 'help' };
  // `--port 9000` or `--port=9000`: show the variable it meant, with the value given.
  const flag = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(args[0] ?? '');
  const value = flag?.[2] ?? args[1];
  const meant = flag?.[1]?.toUpperCase().replaceAll('-', '_');
  const variable = ENV_VARIABLES.find((v) => v === meant || v === `UNDERSTUDY_${meant ?? ''}`);
  const example = variable && value !== undefined ? ` (${variable}=${value} node dist/understudy.mjs)` : '';
  const listed = args.map((a) => JSON.stringify(a)).join(', ');
  return {
    kind: 'refused',
    message: `it takes no arguments (${listed}): it reads its settings from the environment${example}; --help lists them`,
  };
}

/** The fields of a failed `listen` (Node's system error). */
interface ListenFailure {
  code?: unknown;
  syscall?: unknown;
}

/**
 * A failed listen as a sentence that says what to do: Node's own (`listen EADDRINUSE: address
 * already in use 0.0.0.0:8080`) names neither the variable nor the remedy. Anything else as it is.
 */
export function explainListenError(err: unknown, config: Pick<ServerConfig, 'port' | 'host'>): unknown {
  const e: ListenFailure = err !== null && typeof err === 'object' ? err : {};
  const { port, host } = config;
  const cause = { cause: err };
  if (e.code === 'EADDRINUSE' && e.syscall === 'listen')
    return new Error(
      `port ${port} on ${host} is already in use (another Understudy, or another server): stop that process, or set PORT to a free port`,
      cause,
    );
  if (e.code === 'EACCES' && e.syscall === 'listen')
    return new Error(
      `this user may not listen on port ${port} (ports below 1024 need privileges): set PORT to 1024 or above behind a reverse proxy (docs/deployment.md), or grant the service CAP_NET_BIND_SERVICE`,
      cause,
    );
  if (e.code === 'EADDRNOTAVAIL' && e.syscall === 'listen')
    return new Error(
      `HOST ${host} is not an address of this machine: set HOST to one of its addresses, 0.0.0.0 for every one, or 127.0.0.1 for this machine only`,
      cause,
    );
  if ((e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') && e.syscall === 'getaddrinfo')
    return new Error(
      `HOST ${host} is not an address, nor a name this machine resolves: set HOST to one of its addresses, or 0.0.0.0 for every one`,
      cause,
    );
  return err;
}

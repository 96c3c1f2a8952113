/**
 * The systems side by side: the simulator (direct), the limit proxy, the peer (Portkey's open-source
 * gateway) and Understudy, each in its own process on 127.0.0.1, and how each one is asked for a
 * chat completion in each scenario.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from './load.js';
import { answers, freePort, spawnNode, type Proc } from './procs.js';

/** What the primary provider does in a scenario. */
export type PrimaryKind = 'healthy' | 'e503' | 'refused' | 'hung' | 'silent';
/** Whole answers of 24 chunks at once, or 64 chunks 20 ms apart. */
export type Pace = 'instant' | 'paced';

/** The configured first-token (and header) timeout of the primary, in every system. */
export const FIRST_TOKEN_MS = 1000;
export const PACED_TOKENS = 64;
export const PACED_DELAY_MS = 20;
export const API_KEY = 'us-bench-0123456789abcdefghijklmn';
const PROVIDER_KEY = 'sk-bench-simulator';

/** Simulator provider prefixes and the permanent fault each one has. */
const SIM_FAULTS: Record<string, string> = {
  down503: 'unavailable',
  hung: 'no_response',
  silent: 'no_first_token',
};

/** The simulator model name for a pace: instant answers, or the paced stream of scenario 5. */
export function upstreamModel(pace: Pace): string {
  return pace === 'paced' ? `gpt-4o+tokens=${PACED_TOKENS}+delay=${PACED_DELAY_MS}` : 'gpt-4o';
}

export interface Lab {
  root: string;
  tmp: string;
  sim: Proc & { url: string };
  limit: Proc & { url: string };
  peer: Proc & { url: string };
  /** A loopback port nobody listens on (the primary that refuses connections). */
  deadPort: number;
  /** Extra node flags for Understudy processes (e.g. --cpu-prof). */
  understudyFlags: string[];
  /** Understudy bundled as `npm start` bundles it (scripts/build.mjs), run with plain node. */
  understudyBundle: string;
  /** Extra environment for Understudy processes (e.g. an allocator setting in an A/B). */
  understudyEnv?: Record<string, string>;
  /** A command Understudy's node runs under (e.g. valgrind, in bench/instructions.ts). */
  understudyWrapper?: string[];
}

/** What {@link startUnderstudy} needs of a lab: the simulator, without the limit and the peer. */
export type SimLab = Omit<Lab, 'limit' | 'peer'>;

/**
 * Bundles a TypeScript entry point with the build `npm start` uses, so the gateways run as plain
 * JavaScript like the peer: no TypeScript loader thread in their CPU or memory figures.
 */
function bundle(root: string, entry: string, out: string): string {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), entry, out], {
    cwd: root,
    stdio: 'inherit',
  });
  return out;
}

/** Understudy bundled as `npm start` runs it, into dist/bench/. */
const bundleUnderstudy = (root: string): string =>
  bundle(root, 'scripts/start.ts', join(root, 'dist/bench/understudy.mjs'));

/** Base URL (ending in /v1) of the primary provider of a scenario. */
function primaryBase(lab: SimLab, kind: PrimaryKind): string {
  switch (kind) {
    case 'healthy':
      return `${lab.sim.url}/p/alpha/v1`;
    case 'e503':
      return `${lab.sim.url}/p/down503/v1`;
    case 'refused':
      return `http://127.0.0.1:${lab.deadPort}/v1`;
    case 'hung':
      return `${lab.sim.url}/p/hung/v1`;
    case 'silent':
      return `${lab.sim.url}/p/silent/v1`;
  }
}

function backupBase(lab: SimLab): string {
  return `${lab.sim.url}/p/beta/v1`;
}

function nodeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  if (process.env.TMPDIR !== undefined) env.TMPDIR = process.env.TMPDIR;
  return env;
}

/** Starts the simulator alone, on a free port. */
async function startSim(root: string, tmp: string): Promise<Lab['sim']> {
  const simPort = await freePort();
  const faults = Object.entries(SIM_FAULTS).map(([p, f]) => `${p}=${f}`);
  const simUrl = `http://127.0.0.1:${simPort}`;
  const sim = await spawnNode({
    name: 'simulator',
    args: ['--import', 'tsx', join(root, 'bench/sim-server.ts'), String(simPort), ...faults],
    env: nodeEnv({}),
    cwd: root,
    logFile: join(tmp, 'simulator.log'),
    ready: () => answers(`${simUrl}/_sim/health`, 200),
  });
  return Object.assign(sim, { url: simUrl });
}

/** The simulator and Understudy's bundle, without the limit and the peer (bench/instructions.ts). */
export async function startSimLab(root: string, tmp: string, understudyBundle?: string): Promise<SimLab> {
  const sim = await startSim(root, tmp);
  return {
    root,
    tmp,
    sim,
    deadPort: await freePort(),
    understudyFlags: [],
    understudyBundle: understudyBundle ?? bundleUnderstudy(root),
  };
}

/**
 * Starts the limit proxy (bundled like Understudy) with `flags` for node, under `wrapper` when
 * given (valgrind, in bench/instructions.ts).
 */
export async function startLimit(
  root: string,
  tmp: string,
  flags: string[] = [],
  wrapper?: string[],
): Promise<Lab['limit']> {
  // Inside the repository, so the bundle's external packages resolve from node_modules.
  const limitJs = bundle(root, 'bench/limit-proxy.ts', join(root, 'dist/bench/limit-proxy.mjs'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const limit = await spawnNode({
    name: 'limit',
    args: [...flags, limitJs, String(port)],
    env: nodeEnv({}),
    cwd: root,
    logFile: join(tmp, 'limit.log'),
    ready: () => answers(`${url}/_limit/health`, 200),
    ...(wrapper && { wrapper }),
  });
  return Object.assign(limit, { url });
}

/** Starts the simulator, the limit proxy (with `limitFlags` for node) and the peer. */
export async function startLab(
  root: string,
  tmp: string,
  understudyFlags: string[],
  limitFlags: string[] = [],
): Promise<Lab> {
  const sim = await startSim(root, tmp);
  const limit = await startLimit(root, tmp, limitFlags);
  const understudyBundle = bundleUnderstudy(root);
  const peerPort = await freePort();
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const peer = await spawnNode({
    name: 'peer',
    args: [
      join(root, 'node_modules/@portkey-ai/gateway/build/start-server.js'),
      '--headless',
      `--port=${peerPort}`,
    ],
    env: nodeEnv({ NODE_ENV: 'production' }),
    cwd: root,
    logFile: join(tmp, 'peer.log'),
    ready: () => answers(peerUrl),
  });
  return {
    root,
    tmp,
    sim,
    limit,
    peer: Object.assign(peer, { url: peerUrl }),
    deadPort: await freePort(),
    understudyFlags,
    understudyBundle,
  };
}

/** The simulator alone (healthy primary only). */
export function directTarget(lab: Lab, pace: Pace): Target {
  return {
    system: 'direct',
    url: `${primaryBase(lab, 'healthy')}/chat/completions`,
    headers: { authorization: `Bearer ${PROVIDER_KEY}` },
    model: upstreamModel(pace),
    pid: lab.sim.pid,
  };
}

/**
 * The limit proxy. With a healthy or hung primary it carries the same fallback as the gateways
 * (backup, first-token timer); with a primary known to be down (503, refused) it goes straight to the
 * backup: the best a gateway with health memory could do.
 */
export function limitTarget(lab: SimLab & Pick<Lab, 'limit'>, kind: PrimaryKind, pace: Pace): Target {
  const headers: Record<string, string> = { authorization: `Bearer ${PROVIDER_KEY}` };
  if (kind === 'e503' || kind === 'refused') headers['x-limit-primary'] = backupBase(lab);
  else {
    headers['x-limit-primary'] = primaryBase(lab, kind);
    headers['x-limit-backup'] = backupBase(lab);
    headers['x-limit-first-token-ms'] = String(FIRST_TOKEN_MS);
  }
  return {
    system: 'limit',
    url: `${lab.limit.url}/v1/chat/completions`,
    headers,
    model: upstreamModel(pace),
    pid: lab.limit.pid,
  };
}

/** Portkey: strategy `fallback`, two `openai` targets with `custom_host` at the simulator. */
export function peerTarget(lab: Lab, kind: PrimaryKind, pace: Pace): Target {
  const config = {
    strategy: { mode: 'fallback' },
    targets: [
      {
        provider: 'openai',
        api_key: PROVIDER_KEY,
        custom_host: primaryBase(lab, kind),
        request_timeout: FIRST_TOKEN_MS,
      },
      { provider: 'openai', api_key: PROVIDER_KEY, custom_host: backupBase(lab) },
    ],
  };
  return {
    system: 'peer',
    url: `${lab.peer.url}/v1/chat/completions`,
    headers: { 'x-portkey-config': JSON.stringify(config) },
    model: upstreamModel(pace),
    pid: lab.peer.pid,
  };
}

export interface UnderstudyInstance {
  proc: Proc;
  url: string;
  target: Target;
}

let instances = 0;
/** Every Understudy process started, by pid: which primary behaviour and pace it served. */
export const understudyPids = new Map<number, string>();

/**
 * An Understudy server (`scripts/start.ts` bundled and run with node, as `npm start` runs it) with a bootstrap file declaring
 * the two providers, the primary (tier 5, first-token timeout FIRST_TOKEN_MS) and its backup
 * (tier 4), and fallback Automatic.
 */
export async function startUnderstudy(
  lab: SimLab,
  kind: PrimaryKind,
  pace: Pace,
): Promise<UnderstudyInstance> {
  const n = ++instances;
  const dir = join(lab.tmp, `understudy-${n}-${kind}-${pace}`);
  mkdirSync(dir, { recursive: true });
  const config = {
    organization: { name: 'Bench', defaultModel: 'primary', fallback: 'automatic' },
    admin: { email: 'bench@understudy.test', password: 'bench-password-0123' },
    providers: [
      {
        id: 'alpha',
        type: 'openai',
        baseUrl: primaryBase(lab, kind),
        apiKey: PROVIDER_KEY,
        allowPrivate: true,
      },
      { id: 'beta', type: 'openai', baseUrl: backupBase(lab), apiKey: PROVIDER_KEY, allowPrivate: true },
    ],
    models: [
      {
        id: 'primary',
        provider: 'alpha',
        upstream: upstreamModel(pace),
        tier: 5,
        timeouts: { connectMs: FIRST_TOKEN_MS, firstTokenMs: FIRST_TOKEN_MS },
      },
      { id: 'backup', provider: 'beta', upstream: upstreamModel(pace), tier: 4 },
    ],
    apiKeys: [{ name: 'bench', key: API_KEY }],
  };
  const file = join(dir, 'understudy.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await spawnNode({
    name: `understudy (${kind}, ${pace})`,
    args: [...lab.understudyFlags, lab.understudyBundle],
    env: nodeEnv({
      PORT: String(port),
      HOST: '127.0.0.1',
      UNDERSTUDY_CONFIG: file,
      UNDERSTUDY_DATA_DIR: join(dir, 'data'),
      UNDERSTUDY_DEMO: 'off',
      UNDERSTUDY_SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'warn',
      ...lab.understudyEnv,
    }),
    cwd: lab.root,
    logFile: join(dir, 'server.log'),
    ready: () => answers(`${url}/v1/models`, 200, { authorization: `Bearer ${API_KEY}` }),
    readyTimeoutMs: 60_000,
    ...(lab.understudyWrapper && { wrapper: lab.understudyWrapper }),
  });
  understudyPids.set(proc.pid, `${kind}, ${pace}`);
  return {
    proc,
    url,
    target: {
      system: 'understudy',
      url: `${url}/v1/chat/completions`,
      headers: { authorization: `Bearer ${API_KEY}` },
      model: 'primary',
      pid: proc.pid,
    },
  };
}

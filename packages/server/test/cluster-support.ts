/**
 * Support for the cluster tests: real server processes sharing one PostgreSQL database and one
 * Redis (through a TCP proxy the test can blackhole), the simulator in the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { systemClock, type Clock } from '@understudy/engine';
import { Redis } from 'ioredis';

export const REDIS_TEST_URL = process.env.UNDERSTUDY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * True when Redis is there to test against. Otherwise the test is skipped with a line saying so,
 * or fails under CI=true, where Redis is required.
 */
export async function redisOrSkip(t: TestContext): Promise<boolean> {
  if (await redisReachable()) return true;
  if (process.env.CI === 'true') throw new Error(`Redis not reachable at ${REDIS_TEST_URL} (required in CI)`);
  t.skip(`Redis not reachable at ${REDIS_TEST_URL}: skipped`);
  return false;
}

/** A clock whose time the test moves (health memory's cooldowns and windows); sleeps and timers stay real. */
export function manualClock(): Clock & { advance(ms: number): void } {
  let t = 1_000_000;
  return { ...systemClock, now: () => t, advance: (ms) => void (t += ms) };
}

/** True when Redis answers a PING within a second. */
export async function redisReachable(url = REDIS_TEST_URL): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Deletes every key under a prefix. */
export async function dropRedisPrefix(prefix: string, url = REDIS_TEST_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/**
 * A TCP proxy to Redis that can blackhole: while blackholed, sockets stay open but nothing is
 * forwarded either way (a network partition); on resume what was held is delivered.
 */
export class BlackholeProxy {
  private server: Server | undefined;
  private blackholed = false;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; up: Buffer[]; down: Buffer[] }>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Listens on a free loopback port (then in `port`), forwarding to Redis. */
  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      const pair = { client, upstream, up: [] as Buffer[], down: [] as Buffer[] };
      this.pairs.add(pair);
      client.on('data', (d: Buffer) => (this.blackholed ? pair.up.push(d) : upstream.write(d)));
      upstream.on('data', (d: Buffer) => (this.blackholed ? pair.down.push(d) : client.write(d)));
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** From now on nothing is forwarded either way; sockets stay open. */
  blackhole(): void {
    this.blackholed = true;
  }

  /** What each connection sent while blackholed (not yet delivered), one string per connection. */
  held(): string[] {
    return [...this.pairs].map((p) => Buffer.concat(p.up).toString('utf8')).filter((s) => s !== '');
  }

  /** Forwards again, delivering what was held first. */
  resume(): void {
    this.blackholed = false;
    for (const p of this.pairs) {
      for (const d of p.up.splice(0)) p.upstream.write(d);
      for (const d of p.down.splice(0)) p.client.write(d);
    }
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A server process. */
export interface Instance {
  name: string;
  url: string;
  proc: ChildProcess;
  /** Its output (warnings and errors), for failure messages. */
  output: string[];
  stop(): Promise<void>;
}

const ROOT = new URL('../../../', import.meta.url).pathname;

/**
 * Starts `npm start`'s entry as a child process and waits until /readyz answers 200; on `port`
 * when given (an instance restarted where its balancer expects it), else on a free one.
 */
export async function startInstance(
  name: string,
  env: Record<string, string>,
  port?: number,
): Promise<Instance> {
  port ??= await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    output.push(...d.toString('utf8').split('\n').filter(Boolean));
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const inst: Instance = {
    name,
    url,
    proc,
    output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null)
      throw new Error(`instance ${name} exited (${proc.exitCode}):\n${output.slice(-30).join('\n')}`);
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return inst;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await inst.stop();
  throw new Error(`instance ${name} did not become ready:\n${output.slice(-30).join('\n')}`);
}

/** A random API key in the bootstrap file's format. */
export function apiKey(): string {
  return `us-${randomBytes(18).toString('base64url')}`;
}

/** One OpenAI-compatible call and what the headers say. */
export interface Asked {
  status: number;
  ms: number;
  /** Wall-clock send and end (Date.now(), the simulator's clock too). */
  startedAt: number;
  endedAt: number;
  model: string | null;
  fallbackFrom: string | null;
  body: Record<string, unknown>;
}

/** Sends a (non-streaming) chat completion to an instance. */
export async function ask(url: string, key: string, model: string, content = 'Hello'): Promise<Asked> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    ms: performance.now() - t0,
    startedAt,
    endedAt: Date.now(),
    model: res.headers.get('x-understudy-model'),
    fallbackFrom: res.headers.get('x-understudy-fallback-from'),
    body,
  };
}

/** A request the key recorder relayed: the bearer key and the body. */

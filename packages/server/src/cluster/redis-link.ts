/**
 * The link between instances through Redis (issue 5): one command connection and one subscriber
 * connection (ioredis), a single pub/sub channel carrying circuit states and cluster messages, and
 * the link's own health. Every command is bounded (`commandTimeout`, no offline queue): when Redis
 * is slow or down the link is marked down at the first failure, callers answer from local memory
 * without trying Redis again, and a background ping brings the link back (resync first) when Redis
 * answers again. Nothing here ever waits on Redis longer than the timeout.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** A message between instances. */
export type ClusterMessage =
  /** New circuit states (raw stored entries, see RedisHealth). */
  | { type: 'state'; entries: string[] }
  /** An organization's settings, models, providers or keys changed: drop cached catalogs. */
  | { type: 'org'; orgId: string }
  /** The member pressed Stop on another instance: the instance writing this answer stops it. */
  | { type: 'stop'; messageId: string }
  /** API keys were revoked (by a start's bootstrap file): drop these key hashes from every cache. */
  | { type: 'keys'; hashes: string[] };

/** Options of the link. */
export interface RedisLinkOptions {
  url: string;
  /** Prefix of every key and channel (several deployments or test runs can share one Redis). */
  prefix: string;
  /** Bound of any Redis call on the chat path (SPEC §2.5: 100 ms). */
  timeoutMs: number;
  instanceId: string;
  log: Logger;
  /** How often a down link is checked (default 250 ms). */
  recheckMs?: number;
}

type Listener = (m: ClusterMessage, from: string) => void;

/** Redis for the cluster, with graceful degradation. */
export class RedisLink {
  readonly cmd: Redis;
  readonly sub: Redis;
  readonly prefix: string;
  readonly channel: string;
  readonly timeoutMs: number;
  /**
   * How long a chat-path call waits for Redis before answering locally: 60 % of the bound, the rest
   * left for the timer firing late on a busy event loop and the local answer, so that the call
   * returns within the bound (waiting the whole bound made every such call end a little after it;
   * 80 % left only ~20 ms, too little on a loaded 2-core machine).
   */
  readonly waitMs: number;
  readonly instanceId: string;
  private readonly log: Logger;
  private upState = false;
  private readonly listeners = new Set<Listener>();
  private readonly resyncers: (() => Promise<void>)[] = [];
  private recheck: NodeJS.Timeout | undefined;
  private recovering = false;
  private closed = false;
  /** Times the link went down (metrics). */
  downs = 0;
  /** Calls answered from local memory because Redis failed or was down (metrics). */
  localFallbacks = 0;
  lastError: string | undefined;

  /**
   * Loads ioredis and makes the link. Loaded only here, so an instance without REDIS_URL never
   * holds the driver (about 20 MiB resident).
   */
  static async open(opts: RedisLinkOptions): Promise<RedisLink> {
    const { Redis: Client } = await import('ioredis');
    return new RedisLink(opts, Client);
  }

  private constructor(opts: RedisLinkOptions, Client: typeof Redis) {
    this.prefix = opts.prefix;
    this.channel = `${opts.prefix}events`;
    this.timeoutMs = opts.timeoutMs;
    this.waitMs = Math.max(1, Math.floor(opts.timeoutMs * 0.6));
    this.instanceId = opts.instanceId;
    this.log = opts.log;
    const common = {
      lazyConnect: true,
      connectTimeout: 2000,
      // Reconnect forever, quickly: sharing resumes by itself when Redis is back.
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
      enableReadyCheck: true,
    };
    this.cmd = new Client(opts.url, {
      ...common,
      commandTimeout: opts.timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectionName: `understudy:${opts.instanceId}`,
    });
    // The subscriber is never on the chat path: it may queue its SUBSCRIBE until connected.
    this.sub = new Client(opts.url, {
      ...common,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
      connectionName: `understudy:${opts.instanceId}:sub`,
    });
    this.cmd.on('error', (err: Error) => this.markDown(err));
    this.sub.on('error', () => undefined);
    this.cmd.on('close', () => this.markDown(new Error('connection closed')));
    // A subscriber that reconnected may have missed messages: resync.
    let subReadyOnce = false;
    this.sub.on('ready', () => {
      if (subReadyOnce) this.markDown(new Error('subscriber reconnected'));
      subReadyOnce = true;
    });
    this.sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let parsed: { from: string; m: ClusterMessage };
      try {
        parsed = JSON.parse(text) as { from: string; m: ClusterMessage };
      } catch {
        return;
      }
      for (const l of this.listeners) {
        try {
          l(parsed.m, parsed.from);
        } catch (err) {
          this.log.warn({ err }, 'cluster message handler failed');
        }
      }
    });
    this.recheck = setInterval(() => void this.tryRecover(), opts.recheckMs ?? 250);
    this.recheck.unref();
  }

  /** Connects (bounded wait). The instance starts even when Redis is unreachable: it keeps trying. */
  async start(waitMs = 3000): Promise<void> {
    this.cmd.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    this.sub.subscribe(this.channel).catch(() => undefined);
    const until = Date.now() + waitMs;
    while (!this.upState && Date.now() < until && !this.closed) {
      await this.tryRecover();
      if (!this.upState) await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.upState)
      this.log.warn('Redis is not reachable yet: this instance uses its own health memory until it is');
  }

  /** True while Redis answers: callers use it; false: answer from local memory at once. */
  get up(): boolean {
    return this.upState;
  }

  /** Registers a handler of cluster messages (including this instance's own). */
  onMessage(l: Listener): void {
    this.listeners.add(l);
  }

  /** Registers work to run before the link is declared up again (reload shared state). */
  onResync(fn: () => Promise<void>): void {
    this.resyncers.push(fn);
  }

  /** A Redis call failed or timed out: stop using Redis until it answers again. */
  markDown(err: unknown): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    if (!this.upState || this.closed) return;
    this.upState = false;
    this.downs++;
    this.log.warn(
      { err: this.lastError },
      'Redis is slow or unreachable: health memory and settings changes are local until it is back',
    );
  }

  /** Counts a call answered locally. */
  fellBack(): void {
    this.localFallbacks++;
  }

  private async tryRecover(): Promise<void> {
    if (this.upState || this.recovering || this.closed) return;
    if (this.cmd.status !== 'ready' || this.sub.status !== 'ready') return;
    this.recovering = true;
    try {
      await this.cmd.ping();
      // Messages sent while down were missed: reload what is shared before trusting pushes again.
      for (const r of this.resyncers) await r();
      const wasDown = this.downs > 0;
      this.upState = true;
      if (wasDown) this.log.info('Redis is back: health memory and settings are shared again');
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    } finally {
      this.recovering = false;
    }
  }

  /** Publishes a message to every instance (this one included). False when Redis is down or failed. */
  async publish(m: ClusterMessage): Promise<boolean> {
    if (!this.upState) {
      this.fellBack();
      return false;
    }
    try {
      await this.cmd.publish(this.channel, JSON.stringify({ from: this.instanceId, m }));
      return true;
    } catch (err) {
      this.markDown(err);
      this.fellBack();
      return false;
    }
  }

  /** The JSON form of a message as published (the CAS script publishes it itself). */
  envelope(m: ClusterMessage): string {
    return JSON.stringify({ from: this.instanceId, m });
  }

  /** Checks Redis now (bounded by the timeout) when it is believed up; /readyz calls it. */
  async verify(): Promise<void> {
    if (!this.upState) return;
    try {
      await this.cmd.ping();
    } catch (err) {
      this.markDown(err);
    }
  }

  /** State for /readyz and metrics. */
  info(): { status: 'ok' | 'degraded'; downs: number; localFallbacks: number; lastError?: string } {
    return {
      status: this.upState ? 'ok' : 'degraded',
      downs: this.downs,
      localFallbacks: this.localFallbacks,
      ...(!this.upState && this.lastError && { lastError: this.lastError }),
    };
  }

  /** Stops the recheck timer and disconnects both connections; the link reports down from then on. */
  async close(): Promise<void> {
    this.closed = true;
    this.upState = false;
    clearInterval(this.recheck);
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}

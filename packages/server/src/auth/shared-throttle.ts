/**
 * Sign-in throttle counts shared through Redis (several instances behind a balancer). Each key
 * (an email, a client address) is one Redis hash, updated by a Lua script that applies the same
 * rule as `AttemptThrottle.fail` atomically, so failures counted on different instances add up
 * and a block set by one is seen by all. The hash expires when the in-memory entry would go stale
 * (its window and last block both over), so Redis holds no more than the blocked and recent keys.
 *
 * Keys are SHA-256 digests: Redis (often shared, rarely encrypted at rest) never holds an email or
 * an address in clear. Times are the calling instance's clock, as everywhere else in the cluster
 * (NTP-synchronised hosts differ by milliseconds; a block lasts a minute or more).
 *
 * Redis is never what refuses a sign-in: when the link is down or a call fails, the answer is
 * undefined and the throttle uses this instance's own counts (fail-open on the store, not on the
 * throttle). That is logged once per outage, not per attempt: a guesser must not flood the log.
 */
import type { Logger } from 'pino';
import type { RedisLink } from '../cluster/index.js';
import { tokenHash } from '../security/index.js';
import type { AttemptKind, SharedAttempts, ThrottleRule } from './throttle.js';

/**
 * KEYS[1]: the key's hash. ARGV: now, limit, windowMs, firstBlockMs, maxBlockMs (ms).
 * Returns the epoch ms the key is blocked until (0: not blocked), as a string (no float rounding).
 */
const FAIL_SCRIPT = `
local now = tonumber(ARGV[1])
local limit, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local first, max = tonumber(ARGV[4]), tonumber(ARGV[5])
local e = redis.call('HMGET', KEYS[1], 'start', 'failures', 'blocks', 'until')
local start = tonumber(e[1])
local failures, blocks, blocked = tonumber(e[2]) or 0, tonumber(e[3]) or 0, tonumber(e[4]) or 0
if not start or now >= math.max(start, blocked) + window then
  start, failures, blocks, blocked = now, 0, 0, 0
elseif now - start >= window then
  start, failures = now, 0
end
failures = failures + 1
if blocks > 0 or failures >= limit then
  blocked = now + math.min(first * 2 ^ blocks, max)
  blocks = blocks + 1
end
redis.call('HSET', KEYS[1], 'start', string.format('%d', start), 'failures', failures,
  'blocks', blocks, 'until', string.format('%d', blocked))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(start, blocked) + window - now))
return string.format('%d', blocked)
`;

type FailCommand = (key: string, ...args: number[]) => Promise<string>;

/** Sign-in failure counts in Redis, shared by every instance; undefined answers when Redis fails. */
export class RedisAttempts implements SharedAttempts {
  private readonly failCmd: FailCommand;
  /** Whether the fallback to local counts was logged in the current outage. */
  private warned = false;

  constructor(
    private readonly link: RedisLink,
    private readonly log: Logger,
  ) {
    if (!('understudySignInFail' in link.cmd))
      link.cmd.defineCommand('understudySignInFail', { numberOfKeys: 1, lua: FAIL_SCRIPT });
    const cmd = link.cmd as unknown as { understudySignInFail: FailCommand };
    this.failCmd = (...args) => cmd.understudySignInFail(...args);
  }

  /** Epoch ms until which each key is blocked (0: not), or undefined when Redis could not answer. */
  blockedUntil(keys: { kind: AttemptKind; key: string }[]): Promise<number[] | undefined> {
    return this.call(async () => {
      // Sent back to back on the one connection: a single round trip in effect.
      const raw = await Promise.all(
        keys.map((k) => this.link.cmd.hget(this.redisKey(k.kind, k.key), 'until')),
      );
      return raw.map((r) => Number(r ?? 0) || 0);
    });
  }

  /** Counts a failure in Redis; the epoch ms the key is blocked until, or undefined on failure. */
  fail(kind: AttemptKind, key: string, rule: ThrottleRule, now: number): Promise<number | undefined> {
    const { limit, windowMs, firstBlockMs, maxBlockMs } = rule;
    return this.call(async () =>
      Number(await this.failCmd(this.redisKey(kind, key), now, limit, windowMs, firstBlockMs, maxBlockMs)),
    );
  }

  /** Forgets a key's failures in Redis (best effort: the local counts are cleared regardless). */
  async clear(kind: AttemptKind, key: string): Promise<void> {
    await this.call(() => this.link.cmd.del(this.redisKey(kind, key)));
  }

  private redisKey(kind: AttemptKind, key: string): string {
    return `${this.link.prefix}signin:${kind}:${tokenHash(key)}`;
  }

  /** Runs a Redis call, or answers undefined at once when the link is down; a failure marks it down. */
  private async call<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (this.link.up) {
      try {
        const value = await fn();
        this.warned = false;
        return value;
      } catch (err) {
        // Bounded by the link's command timeout; the link's background ping brings it back.
        this.link.markDown(err);
      }
    }
    this.link.fellBack();
    if (!this.warned) {
      this.warned = true;
      this.log.warn(
        { err: this.link.lastError },
        'Redis is unusable: sign-in throttle counts are this instance’s own until it is back',
      );
    }
    return undefined;
  }
}

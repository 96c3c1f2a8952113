/**
 * Brute-force protection of sign-in and invitation links: failures are counted per account
 * (email) and per client address; past a limit within a window the key is blocked, first for a
 * minute, doubling with each further failure up to an hour, and a correct password waits too.
 *
 * The counts live in this process's memory, bounded in size. With several instances each counts
 * its own, so behind a round-robin balancer an attacker gets up to N times the attempts; that is
 * still a few per hour once blocks have grown, and sharing them would put Redis in front of every
 * sign-in for little gain.
 */

/** How one kind of key (an account, an address) is throttled. */
export interface ThrottleRule {
  /** Failures within `windowMs` that block the key. */
  limit: number;
  windowMs: number;
  /** The first block; each later one (a failure after a block, within the window) doubles it. */
  firstBlockMs: number;
  maxBlockMs: number;
  /** Keys remembered at most; past that, the least recently failed are forgotten. */
  maxKeys: number;
}

interface Entry {
  windowStart: number;
  failures: number;
  /** Blocks so far: the next one lasts firstBlockMs × 2^blocks. */
  blocks: number;
  blockedUntil: number;
}

/** Failure counts of one kind of key. */
export class AttemptThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly rule: ThrottleRule,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds `key` must still wait, or 0 when it may try. */
  waitSeconds(key: string): number {
    const e = this.fresh(key, this.now());
    const ms = e ? e.blockedUntil - this.now() : 0;
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  /** Counts a failure of `key`; returns the seconds it is now blocked for (0 when it is not). */
  fail(key: string): number {
    const now = this.now();
    const { limit, windowMs, firstBlockMs, maxBlockMs } = this.rule;
    let e = this.fresh(key, now);
    if (!e) e = { windowStart: now, failures: 0, blocks: 0, blockedUntil: 0 };
    if (now - e.windowStart >= windowMs) {
      e.windowStart = now;
      e.failures = 0;
    }
    e.failures += 1;
    // Once blocked, the next failure blocks again (for longer): the limit is not granted anew.
    if (e.blocks > 0 || e.failures >= limit) {
      e.blockedUntil = now + Math.min(firstBlockMs * 2 ** e.blocks, maxBlockMs);
      e.blocks += 1;
    }
    // Re-inserted, so the map's order is least recently failed first (what is evicted).
    this.entries.delete(key);
    this.entries.set(key, e);
    this.bound(now);
    return this.waitSeconds(key);
  }

  /** Forgets `key`'s failures (a successful sign-in). */
  clear(key: string): void {
    this.entries.delete(key);
  }

  /** Keys remembered (tests check the bound). */
  get size(): number {
    return this.entries.size;
  }

  /** The entry of `key` unless it is stale: its window and its last block both long over. */
  private fresh(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const until = Math.max(e.windowStart, e.blockedUntil) + this.rule.windowMs;
    if (now < until) return e;
    this.entries.delete(key);
    return undefined;
  }

  private bound(now: number): void {
    if (this.entries.size <= this.rule.maxKeys) return;
    for (const key of this.entries.keys()) if (!this.fresh(key, now)) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.rule.maxKeys) break;
      this.entries.delete(key);
    }
  }
}

const MINUTE = 60_000;

/** Per account: 5 failures in 15 minutes block the email (known or not: no account is revealed). */
export const ACCOUNT_RULE: ThrottleRule = {
  limit: 5,
  windowMs: 15 * MINUTE,
  firstBlockMs: MINUTE,
  maxBlockMs: 60 * MINUTE,
  maxKeys: 10_000,
};

/**
 * Per client address: more than per account, as an office behind one NAT address shares it, but
 * enough to stop one client trying many accounts (or invitation tokens).
 */
export const ADDRESS_RULE: ThrottleRule = { ...ACCOUNT_RULE, limit: 20 };

/** A refusal for too many attempts: which key is blocked, and for how long. */
export interface Throttled {
  by: 'account' | 'address';
  retryAfterSeconds: number;
}

/**
 * The sign-in and invitation throttle. Attempts on one account, and from one address, run one at a
 * time: otherwise a burst sent at once would all be checked before the first failure was counted.
 */
export class SignInThrottle {
  readonly accounts: AttemptThrottle;
  readonly addresses: AttemptThrottle;
  private readonly tails = new Map<string, Promise<void>>();

  constructor(now: () => number = Date.now, rules = { account: ACCOUNT_RULE, address: ADDRESS_RULE }) {
    this.accounts = new AttemptThrottle(rules.account, now);
    this.addresses = new AttemptThrottle(rules.address, now);
  }

  /** Whether `account` (when given) or `address` is blocked now. */
  check(address: string, account?: string): Throttled | undefined {
    const byAccount = account === undefined ? 0 : this.accounts.waitSeconds(account);
    const byAddress = this.addresses.waitSeconds(address);
    if (byAccount === 0 && byAddress === 0) return undefined;
    return byAccount >= byAddress
      ? { by: 'account', retryAfterSeconds: byAccount }
      : { by: 'address', retryAfterSeconds: byAddress };
  }

  /** Counts a failed attempt against the address and, when given, the account. */
  failed(address: string, account?: string): void {
    this.addresses.fail(address);
    if (account !== undefined) this.accounts.fail(account);
  }

  /** A correct password: the account's failures are forgotten (the address's stay). */
  succeeded(account: string): void {
    this.accounts.clear(account);
  }

  /** Runs `fn` after every earlier attempt on the same account or from the same address ended. */
  async serialize<T>(address: string, account: string | undefined, fn: () => Promise<T>): Promise<T> {
    const run = () => this.one(`address:${address}`, fn);
    // Always the account first, then the address: two attempts never wait on each other crosswise.
    return account === undefined ? run() : this.one(`account:${account}`, run);
  }

  private async one<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    let release = () => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before ? before.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      await before;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

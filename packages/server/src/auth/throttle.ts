/**
 * Brute-force protection of sign-in and invitation links: failures are counted per account
 * (email) and per client address; past a limit within a window the key is blocked, first for a
 * minute, doubling with each further failure up to an hour, and a correct password waits too.
 *
 * The counts live in this process's memory, bounded in size. With Redis configured they are also
 * kept there (`SharedAttempts`, see shared-throttle.ts), so several instances behind a balancer
 * throttle together instead of granting N times the attempts: a check takes the longer of the
 * shared wait and this process's own. When Redis fails, that check is answered from this process's
 * counts alone (they keep counting all along): a sign-in is never refused, nor let through
 * unthrottled, because the counter store is down.
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

/** Which counter a key is: an account (email) or a client address. */
export type AttemptKind = 'account' | 'address';

/**
 * Counts kept outside this process (Redis), shared by every instance. Each call answers undefined
 * when the store could not be used (down, slow, failed): the caller then uses its own counts.
 */
export interface SharedAttempts {
  /** Epoch ms until which each key is blocked (0 when it is not), in the order given. */
  blockedUntil(keys: { kind: AttemptKind; key: string }[]): Promise<number[] | undefined>;
  /** Counts a failure of one key under `rule`; the epoch ms it is now blocked until (0: not). */
  fail(kind: AttemptKind, key: string, rule: ThrottleRule, now: number): Promise<number | undefined>;
  /** Forgets a key's failures. */
  clear(kind: AttemptKind, key: string): Promise<void>;
}

/**
 * The sign-in and invitation throttle. Attempts on one account, and from one address, run one at a
 * time on this instance: otherwise a burst sent at once would all be checked before the first
 * failure was counted. (Across instances a burst can still have one attempt per instance in
 * flight per key; the shared counts catch up at the next check.)
 */
export class SignInThrottle {
  readonly accounts: AttemptThrottle;
  readonly addresses: AttemptThrottle;
  private readonly rules: { account: ThrottleRule; address: ThrottleRule };
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly now: () => number = Date.now,
    rules = { account: ACCOUNT_RULE, address: ADDRESS_RULE },
    private readonly shared?: SharedAttempts,
  ) {
    this.rules = rules;
    this.accounts = new AttemptThrottle(rules.account, now);
    this.addresses = new AttemptThrottle(rules.address, now);
  }

  /** Whether `account` (when given) or `address` is blocked now. */
  async check(address: string, account?: string): Promise<Throttled | undefined> {
    const shared = await this.sharedWaits(address, account);
    // The larger of the two: this instance's counts are a part of the shared ones, so its own wait
    // never over-blocks, and it keeps what was counted while Redis was unusable once Redis is back.
    const byAccount = Math.max(
      shared?.byAccount ?? 0,
      account === undefined ? 0 : this.accounts.waitSeconds(account),
    );
    const byAddress = Math.max(shared?.byAddress ?? 0, this.addresses.waitSeconds(address));
    if (byAccount === 0 && byAddress === 0) return undefined;
    return byAccount >= byAddress
      ? { by: 'account', retryAfterSeconds: byAccount }
      : { by: 'address', retryAfterSeconds: byAddress };
  }

  /** Counts a failed attempt against the address and, when given, the account. */
  async failed(address: string, account?: string): Promise<void> {
    // Counted here too, always: they answer the checks made while Redis is unusable.
    this.addresses.fail(address);
    if (account !== undefined) this.accounts.fail(account);
    if (!this.shared) return;
    const now = this.now();
    await Promise.all([
      this.shared.fail('address', address, this.rules.address, now),
      account === undefined ? undefined : this.shared.fail('account', account, this.rules.account, now),
    ]);
  }

  /** A correct password: the account's failures are forgotten (the address's stay). */
  async succeeded(account: string): Promise<void> {
    this.accounts.clear(account);
    await this.shared?.clear('account', account);
  }

  /** Runs `fn` after every earlier attempt on the same account or from the same address ended. */
  async serialize<T>(address: string, account: string | undefined, fn: () => Promise<T>): Promise<T> {
    const run = () => this.one(`address:${address}`, fn);
    // Always the account first, then the address: two attempts never wait on each other crosswise.
    return account === undefined ? run() : this.one(`account:${account}`, run);
  }

  /** The waits by the shared counts, or undefined when there are none or they could not be read. */
  private async sharedWaits(
    address: string,
    account: string | undefined,
  ): Promise<{ byAccount: number; byAddress: number } | undefined> {
    if (!this.shared) return undefined;
    const keys: { kind: AttemptKind; key: string }[] = [{ kind: 'address', key: address }];
    if (account !== undefined) keys.push({ kind: 'account', key: account });
    const until = await this.shared.blockedUntil(keys);
    if (!until) return undefined;
    const now = this.now();
    const secs = (ms: number | undefined) => (ms && ms > now ? Math.ceil((ms - now) / 1000) : 0);
    return { byAddress: secs(until[0]), byAccount: secs(until[1]) };
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

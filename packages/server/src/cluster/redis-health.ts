/**
 * Health memory shared through Redis (SPEC §2.5, issue 5).
 *
 * - Reads (`check`, `snapshot`) are answered from a local mirror (the engine's InMemoryHealth): no
 *   Redis round-trip decides whether a request goes to the primary.
 * - Writes apply the engine's pure breaker transitions (`onFailure`, `onSuccess`, `startProbe`,
 *   `endProbeUnused`) and store the result with an atomic compare-and-set (a small Lua script that
 *   compares the stored entries, writes the new ones and PUBLISHes them in one step). The rules stay
 *   the engine's; Redis only arbitrates. The expected values are the mirror's, so the usual write is
 *   one round-trip; a conflict returns the current entries and the transition is computed again.
 * - Every instance subscribes and applies pushed states to its mirror: a circuit opened anywhere is
 *   seen everywhere within milliseconds. The probe claim is the same CAS over both breakers of a
 *   target, so one probe runs across the cluster.
 * - Redis slow or down: the call is answered from the mirror within the timeout (local transition,
 *   local probe claim), the link is marked down and Redis is not tried again until a background ping
 *   succeeds; then states are reloaded and merged (the newer of local and shared wins).
 */
import {
  DEFAULT_BREAKER_POLICY,
  claimProbe,
  endProbeUnused,
  freshBreaker,
  InMemoryHealth,
  keysOf,
  keyString,
  onFailure,
  onSuccess,
  scopesFor,
  systemClock,
  type BreakerPolicy,
  type BreakerState,
  type CircuitKey,
  type CircuitView,
  type Clock,
  type FailureDetails,
  type HealthMemory,
  type TargetHealth,
  type TargetRef,
} from '@understudy/engine';
import type { RedisLink } from './redis-link.js';

/** One stored breaker: its key, a version bumped by every write, and its state. */
interface Stored {
  k: CircuitKey;
  v: number;
  s: BreakerState;
}

/** A breaker as this instance knows it. */
interface Entry {
  key: CircuitKey;
  v: number;
  state: BreakerState;
  /** The stored text last seen in Redis ('' when absent): the expected value of the next CAS. */
  raw: string;
  /** Changed locally while Redis was down (pushed at resync when newer than the shared state). */
  localOnly: boolean;
}

/** A transition over some breakers: the new states (undefined: unchanged) and a result. */
type Transition<R> = (
  states: BreakerState[],
  now: number,
) => { next: (BreakerState | undefined)[]; result: R };

/**
 * Compare-and-set of N entries, then PUBLISH. KEYS: the entries. ARGV: ttl ms, channel, message,
 * N expected values ('' = absent), N new values ('' = leave). Returns {1} or {0, current...}.
 */
const CAS_SCRIPT = `
local n = #KEYS
local cur = {}
local ok = true
for i = 1, n do
  local c = redis.call('GET', KEYS[i])
  if not c then c = '' end
  cur[i] = c
  if c ~= ARGV[3 + i] then ok = false end
end
if not ok then
  local r = {0}
  for i = 1, n do r[i + 1] = cur[i] end
  return r
end
for i = 1, n do
  local v = ARGV[3 + n + i]
  if v ~= '' then redis.call('SET', KEYS[i], v, 'PX', ARGV[1]) end
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return {1}
`;

/**
 * The version of a new write: above the previous one, and at least the current time in ms, so that
 * versions keep growing even after Redis restarted empty (pushes are ordered by version).
 */
function nextVersion(previous: number | undefined, now: number): number {
  return Math.max((previous ?? 0) + 1, now);
}

/** Breakers untouched for this long expire from Redis. */
const TTL_MS = 24 * 3600_000;
/** CAS attempts under contention before the write is kept local. */
const MAX_ATTEMPTS = 25;

type CasCommand = (...args: (string | number)[]) => Promise<(string | number)[]>;

/** Health memory shared between instances through Redis, with local memory as mirror and fallback. */
export class RedisHealth implements HealthMemory {
  readonly mirror: InMemoryHealth;
  readonly policy: BreakerPolicy;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private readonly cas: CasCommand;

  constructor(
    private readonly link: RedisLink,
    opts: { clock?: Clock; policy?: Partial<BreakerPolicy> } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.policy = { ...DEFAULT_BREAKER_POLICY, ...opts.policy };
    this.mirror = new InMemoryHealth({ clock: this.clock, policy: this.policy });
    if (!('understudyCas' in link.cmd)) link.cmd.defineCommand('understudyCas', { lua: CAS_SCRIPT });
    const cmd = link.cmd as unknown as { understudyCas: CasCommand };
    this.cas = (...args) => cmd.understudyCas(...args);
    link.onMessage((m) => {
      if (m.type === 'state') for (const raw of m.entries) this.applyRaw(raw);
    });
    link.onResync(() => this.resync());
  }

  private redisKey(k: CircuitKey): string {
    return `${this.link.prefix}cb:${keyString(k)}`;
  }

  private stateOf(k: CircuitKey): BreakerState {
    return this.entries.get(keyString(k))?.state ?? freshBreaker(this.clock.now());
  }

  private setLocal(e: Entry): void {
    this.entries.set(keyString(e.key), e);
    this.mirror.apply(e.key, e.state);
  }

  /**
   * Applies a stored entry: pushed ones when newer than what is known; `current` ones (just read from
   * or written to Redis) always, so a Redis that restarted empty cannot leave a stale version behind.
   */
  private applyRaw(raw: string, current = false): void {
    let st: Stored;
    try {
      st = JSON.parse(raw) as Stored;
    } catch {
      return;
    }
    const cur = this.entries.get(keyString(st.k));
    if (cur && !cur.localOnly && cur.v >= st.v && !(current && cur.raw !== raw)) return;
    if (cur?.localOnly && cur.state.updatedAt > st.s.updatedAt) {
      cur.raw = raw;
      cur.v = st.v;
      return;
    }
    this.setLocal({ key: st.k, v: st.v, state: st.s, raw, localOnly: false });
  }

  /** The breaker is absent from Redis: keep its state here, but expect nothing there. */
  private forgetRaw(key: CircuitKey | undefined): void {
    const cur = key && this.entries.get(keyString(key));
    if (cur) {
      cur.raw = '';
      if (!cur.localOnly) cur.v = 0;
    }
  }

  /**
   * Runs a transition: atomically in Redis when the link is up (bounded by the timeout), else (or on
   * any failure) on the local mirror. Returns the transition's result either way.
   */
  private async transition<R>(keys: CircuitKey[], fn: Transition<R>): Promise<R> {
    if (this.link.up) {
      // A hard bound on the whole call (a CAS retry after a slow first attempt included).
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.link.waitMs)));
      try {
        const out = await Promise.race([this.shared(keys, fn), bound]);
        if (out === 'timeout') {
          this.link.markDown(new Error(`Redis did not answer within ${this.link.waitMs} ms`));
        } else if (out !== 'contention') {
          return out.result;
        } else {
          // Contention beyond the attempts or the deadline: honour it here until the next push.
          this.link.fellBack();
          return this.local(keys, fn, false);
        }
      } catch (err) {
        this.link.markDown(err);
      } finally {
        clearTimeout(timer);
      }
    }
    this.link.fellBack();
    return this.local(keys, fn, true);
  }

  /** The transition in Redis: compare-and-set, recomputed on conflict. Throws when Redis fails. */
  private async shared<R>(keys: CircuitKey[], fn: Transition<R>): Promise<{ result: R } | 'contention'> {
    const deadline = this.clock.now() + this.link.waitMs;
    let expected = keys.map((k) => this.entries.get(keyString(k))?.raw ?? '');
    for (let attempt = 0; attempt < MAX_ATTEMPTS && this.clock.now() <= deadline; attempt++) {
      const stored = expected.map((raw) => (raw ? (JSON.parse(raw) as Stored) : undefined));
      const now = this.clock.now();
      const { next, result } = fn(
        stored.map((s) => s?.s ?? freshBreaker(now)),
        now,
      );
      const raws = next.map((s, i) =>
        s
          ? JSON.stringify({
              k: keys[i] as CircuitKey,
              v: nextVersion(stored[i]?.v, now),
              s,
            } satisfies Stored)
          : '',
      );
      const written = raws.filter((r) => r !== '');
      if (written.length === 0) {
        // Nothing to write: the answer stands if the expected entries are still current.
        const cur = await this.link.cmd.mget(...keys.map((k) => this.redisKey(k)));
        const now2 = cur.map((c) => c ?? '');
        if (now2.every((c, i) => c === expected[i])) return { result };
        now2.forEach((c) => c && this.applyRaw(c));
        expected = now2;
        continue;
      }
      const message = this.link.envelope({ type: 'state', entries: written });
      const reply = await this.cas(
        keys.length,
        ...keys.map((k) => this.redisKey(k)),
        TTL_MS,
        this.link.channel,
        message,
        ...expected,
        ...raws,
      );
      if (Number(reply[0]) === 1) {
        for (const raw of written) this.applyRaw(raw);
        return { result };
      }
      expected = reply.slice(1).map((c) => String(c));
      for (const c of expected) if (c) this.applyRaw(c);
    }
    return 'contention';
  }

  /** The transition on local memory only; `sticky`: Redis is down, push it at resync when newer. */
  private local<R>(keys: CircuitKey[], fn: Transition<R>, sticky: boolean): R {
    const now = this.clock.now();
    const { next, result } = fn(
      keys.map((k) => this.stateOf(k)),
      now,
    );
    next.forEach((s, i) => {
      const key = keys[i];
      if (!s || !key) return;
      const cur = this.entries.get(keyString(key));
      this.setLocal({ key, v: cur?.v ?? 0, state: s, raw: cur?.raw ?? '', localOnly: sticky });
    });
    return result;
  }

  /** Reloads every shared breaker; pushes local ones learnt while Redis was down when newer. */
  async resync(): Promise<void> {
    const pattern = `${this.link.prefix}cb:*`;
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.link.cmd.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      const raws = await this.link.cmd.mget(...keys);
      for (const raw of raws) {
        if (!raw) continue;
        this.applyRaw(raw, true);
        seen.add(keyString((JSON.parse(raw) as Stored).k));
      }
    } while (cursor !== '0');
    // Gone from Redis (restarted empty, expired): what this instance knows is not shared any more.
    for (const e of this.entries.values()) if (!seen.has(keyString(e.key))) this.forgetRaw(e.key);
    // Applying the shared states cleared `localOnly` where the shared one was newer; push the rest.
    for (const e of [...this.entries.values()]) {
      if (!e.localOnly) continue;
      const v = nextVersion(e.v, this.clock.now());
      const raw = JSON.stringify({ k: e.key, v, s: e.state } satisfies Stored);
      const message = this.link.envelope({ type: 'state', entries: [raw] });
      const reply = await this.cas(1, this.redisKey(e.key), TTL_MS, this.link.channel, message, e.raw, raw);
      if (Number(reply[0]) === 1) this.setLocal({ key: e.key, v, state: e.state, raw, localOnly: false });
      else if (reply[1]) this.applyRaw(String(reply[1]), true);
    }
  }

  /** HealthMemory.checkNow: read from the local mirror, never waiting on Redis. */
  checkNow(target: TargetRef): TargetHealth {
    return this.mirror.checkNow(target);
  }

  /** HealthMemory.check: `checkNow`, as a promise. */
  async check(target: TargetRef): Promise<TargetHealth> {
    return this.checkNow(target);
  }

  /** HealthMemory.tryAcquireProbe: claimed atomically in Redis, so one probe runs across the cluster. */
  async tryAcquireProbe(target: TargetRef): Promise<boolean> {
    // The mirror says no probe is due (another instance's claim was pushed): no round-trip needed.
    if (!this.mirror.checkNow(target).probeDue) return false;
    return this.transition(keysOf(target), (states, now) => {
      const next = claimProbe(states, now, this.policy);
      return next ? { next, result: true } : { next: [], result: false };
    });
  }

  /** HealthMemory.releaseProbe: half-open breakers go back to open, a probe due again at once, for every instance. */
  async releaseProbe(target: TargetRef): Promise<void> {
    await this.transition(keysOf(target), (states, now) => ({
      next: states.map((s) => (s.state === 'half_open' ? endProbeUnused(s, now) : undefined)),
      result: undefined,
    }));
  }

  /** HealthMemory.recordSuccess: closes the target's breakers for every instance. */
  async recordSuccess(target: TargetRef, latencyMs: number): Promise<void> {
    await this.transition(keysOf(target), (states, now) => ({
      next: states.map((s) => onSuccess(s, latencyMs, now, this.policy)),
      result: undefined,
    }));
  }

  /** HealthMemory.recordFailure: counted on the failure's scopes (provider, model, or both), shared with every instance. */
  async recordFailure(target: TargetRef, failure: FailureDetails): Promise<void> {
    const scopes = scopesFor(failure);
    const keys = keysOf(target).filter((k) => scopes.includes(k.scope));
    if (keys.length === 0) return;
    await this.transition(keys, (states, now) => ({
      next: states.map((s) => onFailure(s, failure, now, this.policy)),
      result: undefined,
    }));
  }

  /** HealthMemory.reset: a fresh closed breaker for every instance. */
  async reset(key: CircuitKey): Promise<void> {
    await this.transition([key], (_states, now) => ({ next: [freshBreaker(now)], result: undefined }));
  }

  /** HealthMemory.snapshot: the local mirror's breakers. */
  async snapshot(): Promise<CircuitView[]> {
    return this.mirror.snapshot();
  }
}

/** Health memory kept in this process: the default, and the fallback of any shared store. */
import { systemClock, type Clock } from '../clock.js';
import type { FailureDetails } from '../errors.js';
import {
  claimProbe,
  DEFAULT_BREAKER_POLICY,
  endProbeUnused,
  freshBreaker,
  onFailure,
  onSuccess,
  probeDue,
  scopesFor,
  viewOf,
  type BreakerPolicy,
  type BreakerState,
} from './circuit.js';
import { perTarget } from './per-target.js';
import type { CircuitKey, CircuitView, HealthMemory, TargetHealth, TargetRef } from './types.js';

/** Both breaker keys of a target. */
export function keysOf(t: TargetRef): [CircuitKey, CircuitKey] {
  return [
    { scope: 'provider', id: t.providerId },
    { scope: 'model', id: t.modelId },
  ];
}

/** The storage key of a breaker. */
export function keyString(k: CircuitKey): string {
  return `${k.scope}:${k.id}`;
}

/** One breaker's place: its key, made once, and its state (undefined: never recorded, or reset). */
interface Slot {
  readonly key: CircuitKey;
  state: BreakerState | undefined;
}

/** Circuit breakers per provider and per model, in a Map. Synchronous underneath; async to fit the interface. */
export class InMemoryHealth implements HealthMemory {
  /** Every breaker seen, by its storage key. */
  private readonly slots = new Map<string, Slot>();
  /** A target's two slots, found once per target rather than by two key strings per call. */
  private readonly slotsOf = perTarget((t): readonly [Slot, Slot] => {
    const [pk, mk] = keysOf(t);
    return [this.slot(pk), this.slot(mk)];
  });
  private readonly clock: Clock;
  readonly policy: BreakerPolicy;

  constructor(opts: { clock?: Clock; policy?: Partial<BreakerPolicy> } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.policy = { ...DEFAULT_BREAKER_POLICY, ...opts.policy };
  }

  private slot(key: CircuitKey): Slot {
    const name = keyString(key);
    let s = this.slots.get(name);
    if (!s)
      this.slots.set(name, (s = { key: Object.freeze({ scope: key.scope, id: key.id }), state: undefined }));
    return s;
  }

  private stateOf(s: Slot): BreakerState {
    return s.state ?? freshBreaker(this.clock.now());
  }

  /** The target's health, computed synchronously (used by the async interface and by shared stores). */
  checkNow(target: TargetRef): TargetHealth {
    const now = this.clock.now();
    const [p, m] = this.slotsOf(target);
    const ps = this.stateOf(p);
    const ms = this.stateOf(m);
    const available = ps.state === 'closed' && ms.state === 'closed';
    const due = (ps.state === 'closed' || probeDue(ps, now)) && (ms.state === 'closed' || probeDue(ms, now));
    return {
      provider: viewOf(p.key, ps, now, this.policy),
      model: viewOf(m.key, ms, now, this.policy),
      available,
      probeDue: !available && due,
    };
  }

  /** HealthMemory.check: `checkNow`, as a promise. */
  async check(target: TargetRef): Promise<TargetHealth> {
    return this.checkNow(target);
  }

  /** Synchronous probe claim: all the target's open breakers, or none. */
  acquireProbeNow(target: TargetRef): boolean {
    const slots = this.slotsOf(target);
    const next = claimProbe(
      slots.map((s) => this.stateOf(s)),
      this.clock.now(),
      this.policy,
    );
    if (!next) return false;
    slots.forEach((slot, i) => {
      const s = next[i];
      if (s) slot.state = s;
    });
    return true;
  }

  /** HealthMemory.tryAcquireProbe: `acquireProbeNow`, as a promise. */
  async tryAcquireProbe(target: TargetRef): Promise<boolean> {
    return this.acquireProbeNow(target);
  }

  /** HealthMemory.releaseProbe: the target's half-open breakers go back to open, a probe due again at once. */
  async releaseProbe(target: TargetRef): Promise<void> {
    const now = this.clock.now();
    for (const s of this.slotsOf(target)) s.state = endProbeUnused(this.stateOf(s), now);
  }

  /** Synchronous success record. */
  successNow(target: TargetRef, latencyMs: number): void {
    const now = this.clock.now();
    for (const s of this.slotsOf(target)) s.state = onSuccess(this.stateOf(s), latencyMs, now, this.policy);
  }

  /** HealthMemory.recordSuccess: `successNow`, as a promise. */
  async recordSuccess(target: TargetRef, latencyMs: number): Promise<void> {
    this.successNow(target, latencyMs);
  }

  /** Synchronous failure record. */
  failureNow(target: TargetRef, failure: FailureDetails): void {
    const now = this.clock.now();
    const scopes = scopesFor(failure);
    for (const s of this.slotsOf(target)) {
      if (scopes.includes(s.key.scope)) s.state = onFailure(this.stateOf(s), failure, now, this.policy);
    }
  }

  /** HealthMemory.recordFailure: `failureNow`, as a promise. */
  async recordFailure(target: TargetRef, failure: FailureDetails): Promise<void> {
    this.failureNow(target, failure);
  }

  /** HealthMemory.reset: the breaker is forgotten (fresh and closed on next use). */
  async reset(key: CircuitKey): Promise<void> {
    const s = this.slots.get(keyString(key));
    if (s) s.state = undefined;
  }

  /** Replaces one breaker's state (a shared store pushing what another instance learnt). */
  apply(key: CircuitKey, state: BreakerState): void {
    this.slot(key).state = state;
  }

  /** HealthMemory.snapshot: every breaker that has a state. */
  async snapshot(): Promise<CircuitView[]> {
    const now = this.clock.now();
    const views: CircuitView[] = [];
    for (const { key, state } of this.slots.values())
      if (state) views.push(viewOf(key, state, now, this.policy));
    return views;
  }
}

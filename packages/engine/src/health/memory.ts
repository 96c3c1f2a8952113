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

/** Circuit breakers per provider and per model, in a Map. Synchronous underneath; async to fit the interface. */
export class InMemoryHealth implements HealthMemory {
  private readonly breakers = new Map<string, { key: CircuitKey; state: BreakerState }>();
  private readonly clock: Clock;
  readonly policy: BreakerPolicy;

  constructor(opts: { clock?: Clock; policy?: Partial<BreakerPolicy> } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.policy = { ...DEFAULT_BREAKER_POLICY, ...opts.policy };
  }

  private get(key: CircuitKey): BreakerState {
    return this.breakers.get(keyString(key))?.state ?? freshBreaker(this.clock.now());
  }

  private put(key: CircuitKey, state: BreakerState): void {
    this.breakers.set(keyString(key), { key, state });
  }

  /** The target's health, computed synchronously (used by the async interface and by shared stores). */
  checkNow(target: TargetRef): TargetHealth {
    const now = this.clock.now();
    const [pk, mk] = keysOf(target);
    const ps = this.get(pk);
    const ms = this.get(mk);
    const available = ps.state === 'closed' && ms.state === 'closed';
    const due = [ps, ms].every((s) => s.state === 'closed' || probeDue(s, now));
    return {
      provider: viewOf(pk, ps, now, this.policy),
      model: viewOf(mk, ms, now, this.policy),
      available,
      probeDue: !available && due,
    };
  }

  async check(target: TargetRef): Promise<TargetHealth> {
    return this.checkNow(target);
  }

  /** Synchronous probe claim: all the target's open breakers, or none. */
  acquireProbeNow(target: TargetRef): boolean {
    const keys = keysOf(target);
    const next = claimProbe(
      keys.map((k) => this.get(k)),
      this.clock.now(),
      this.policy,
    );
    if (!next) return false;
    keys.forEach((k, i) => {
      const s = next[i];
      if (s) this.put(k, s);
    });
    return true;
  }

  async tryAcquireProbe(target: TargetRef): Promise<boolean> {
    return this.acquireProbeNow(target);
  }

  async releaseProbe(target: TargetRef): Promise<void> {
    const now = this.clock.now();
    for (const k of keysOf(target)) this.put(k, endProbeUnused(this.get(k), now));
  }

  /** Synchronous success record. */
  successNow(target: TargetRef, latencyMs: number): void {
    const now = this.clock.now();
    for (const k of keysOf(target)) this.put(k, onSuccess(this.get(k), latencyMs, now, this.policy));
  }

  async recordSuccess(target: TargetRef, latencyMs: number): Promise<void> {
    this.successNow(target, latencyMs);
  }

  /** Synchronous failure record. */
  failureNow(target: TargetRef, failure: FailureDetails): void {
    const now = this.clock.now();
    const scopes = scopesFor(failure);
    for (const k of keysOf(target)) {
      if (scopes.includes(k.scope)) this.put(k, onFailure(this.get(k), failure, now, this.policy));
    }
  }

  async recordFailure(target: TargetRef, failure: FailureDetails): Promise<void> {
    this.failureNow(target, failure);
  }

  async reset(key: CircuitKey): Promise<void> {
    this.breakers.delete(keyString(key));
  }

  /** Replaces one breaker's state (a shared store pushing what another instance learnt). */
  apply(key: CircuitKey, state: BreakerState): void {
    this.put(key, state);
  }

  async snapshot(): Promise<CircuitView[]> {
    const now = this.clock.now();
    return [...this.breakers.values()].map(({ key, state }) => viewOf(key, state, now, this.policy));
  }
}

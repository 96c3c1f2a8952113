/**
 * One circuit breaker as pure state transitions, shared by every HealthMemory implementation
 * (in-process here, Redis in the server), so the rules of SPEC §2.5 live in one place.
 */
import type { FailureDetails, FallbackReason } from '../errors.js';
import type { CircuitKey, CircuitScope, CircuitView } from './types.js';

/** Thresholds and timings of the breakers. */
export interface BreakerPolicy {
  /** Opens after this many availability failures in a row. */
  consecutiveThreshold: number;
  /** …or when at least `windowMinSamples` outcomes in `windowMs` are failures at `windowFailureRatio` or more. */
  windowMs: number;
  windowMinSamples: number;
  windowFailureRatio: number;
  /** First cooldown before a probe; doubles while probes fail, up to `maxCooldownMs`. */
  baseCooldownMs: number;
  maxCooldownMs: number;
  /** A `Retry-After` longer than this opens the breaker at once, for that long. */
  quickRetryMaxMs: number;
  /** How long a probe may hold its slot before another caller may probe (a crashed prober). */
  probeLeaseMs: number;
}

/** SPEC §2.5 defaults. */
export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  consecutiveThreshold: 3,
  windowMs: 30_000,
  windowMinSamples: 5,
  windowFailureRatio: 0.5,
  baseCooldownMs: 10_000,
  maxCooldownMs: 120_000,
  quickRetryMaxMs: 3_000,
  probeLeaseMs: 150_000,
};

/** The stored state of one breaker (plain data: serialisable to a shared store). */
export interface BreakerState {
  state: 'closed' | 'open' | 'half_open';
  consecutiveFailures: number;
  /** Outcomes inside the window: [time, ok]. */
  outcomes: [number, boolean][];
  reason?: FallbackReason;
  lastError?: string;
  openedAt?: number;
  retryAt?: number;
  cooldownMs?: number;
  /** While half-open: when the probe's lease runs out. */
  probeUntil?: number;
  /**
   * Until when the provider asked to be left alone (a Retry-After past the quick-retry limit). A
   * breaker opened by counting failures, rate limits among them, did not ask: with no backup to go
   * to, the target is still asked (see the executor).
   */
  leftAloneUntil?: number;
  latencyMs?: number;
  updatedAt: number;
}

/** A closed breaker with no history. */
export function freshBreaker(now: number): BreakerState {
  return { state: 'closed', consecutiveFailures: 0, outcomes: [], updatedAt: now };
}

/** Outcomes kept per breaker: the ratio rule needs only a handful of samples. */
const MAX_OUTCOMES = 50;

/**
 * The window's outcomes with `entry` appended: those still inside the window, at most the last
 * MAX_OUTCOMES. One pass from the newest end and one array, since this runs twice per answer
 * (provider and model breakers); no assumption that stored times are in order (shared stores
 * merge several instances' clocks).
 */
function withOutcome(
  outcomes: readonly [number, boolean][],
  entry: [number, boolean],
  now: number,
  p: BreakerPolicy,
): [number, boolean][] {
  const from = now - p.windowMs;
  const kept: [number, boolean][] = [entry];
  for (let i = outcomes.length - 1; i >= 0 && kept.length < MAX_OUTCOMES; i--) {
    const o = outcomes[i] as [number, boolean];
    if (o[0] >= from) kept.push(o);
  }
  return kept.reverse();
}

function open(s: BreakerState, now: number, cooldownMs: number, holdMs: number): BreakerState {
  return {
    ...s,
    state: 'open',
    openedAt: s.openedAt ?? now,
    cooldownMs,
    retryAt: now + holdMs,
    probeUntil: undefined,
  };
}

/**
 * Which breakers a failure counts against. Failures that say the whole provider is down count on
 * the provider too; a rate limit, a slow first token or a broken stream are the model's.
 */
export function scopesFor(f: FailureDetails): CircuitScope[] {
  switch (f.reason) {
    case 'unreachable':
    case 'overloaded':
    case 'provider_error':
      return ['provider', 'model'];
    case 'timeout':
      return f.timeout === 'connect' ? ['provider', 'model'] : ['model'];
    case 'provider_misconfigured':
      // 404 is one model missing; 401/402/403 is the account (key revoked, billing).
      return f.status === 404 ? ['model'] : ['provider', 'model'];
    case 'rate_limited':
    case 'interrupted':
      return ['model'];
    default:
      return []; // context_too_long and final reasons say nothing about availability
  }
}

/** Records an availability failure. */
export function onFailure(s: BreakerState, f: FailureDetails, now: number, p: BreakerPolicy): BreakerState {
  if (f.reason === 'context_too_long' || f.reason === 'bad_request') return s;
  if (f.reason === 'content_filtered' || f.reason === 'cancelled') return s;
  const outcomes = withOutcome(s.outcomes, [now, false], now, p);
  const next: BreakerState = {
    ...s,
    outcomes,
    consecutiveFailures: s.consecutiveFailures + 1,
    reason: f.reason,
    lastError: f.message,
    updatedAt: now,
  };
  const base = p.baseCooldownMs;
  const longRetryAfter = f.retryAfterMs !== undefined && f.retryAfterMs > p.quickRetryMaxMs;
  if (longRetryAfter) next.leftAloneUntil = Math.max(s.leftAloneUntil ?? 0, now + (f.retryAfterMs ?? 0));
  if (s.state === 'half_open') {
    // The probe failed: stay away longer.
    const cooldown = Math.min((s.cooldownMs ?? base) * 2, p.maxCooldownMs);
    return open(next, now, cooldown, longRetryAfter ? Math.max(cooldown, f.retryAfterMs ?? 0) : cooldown);
  }
  if (s.state === 'open') {
    // A request that started before the breaker opened; only a longer Retry-After moves the probe.
    const retryAt = longRetryAfter ? Math.max(s.retryAt ?? now, now + (f.retryAfterMs ?? 0)) : s.retryAt;
    return { ...next, state: 'open', retryAt };
  }
  if (longRetryAfter) return open(next, now, base, f.retryAfterMs ?? base);
  if (f.reason === 'provider_misconfigured') return open(next, now, base, base);
  const failures = outcomes.filter(([, ok]) => !ok).length;
  const ratioTrips =
    outcomes.length >= p.windowMinSamples && failures / outcomes.length >= p.windowFailureRatio;
  if (next.consecutiveFailures >= p.consecutiveThreshold || ratioTrips) return open(next, now, base, base);
  return next;
}

/** Records a success: closes the breaker and smooths the latency. */
export function onSuccess(s: BreakerState, latencyMs: number, now: number, p: BreakerPolicy): BreakerState {
  const latency = s.latencyMs === undefined ? latencyMs : Math.round(s.latencyMs * 0.7 + latencyMs * 0.3);
  return {
    state: 'closed',
    consecutiveFailures: 0,
    outcomes: withOutcome(s.outcomes, [now, true], now, p),
    latencyMs: latency,
    updatedAt: now,
  };
}

/** True when a caller may start a probe now. */
export function probeDue(s: BreakerState, now: number): boolean {
  if (s.state === 'open') return now >= (s.retryAt ?? 0);
  if (s.state === 'half_open') return now >= (s.probeUntil ?? 0);
  return false;
}

/** Takes the probe slot (call only when `probeDue`). */
export function startProbe(s: BreakerState, now: number, p: BreakerPolicy): BreakerState {
  return { ...s, state: 'half_open', probeUntil: now + p.probeLeaseMs, updatedAt: now };
}

/**
 * Claims the probe of a target: every open breaker of it, or none. Returns each breaker's next
 * state (undefined where nothing changes), or undefined when no probe may start now.
 */
export function claimProbe(
  states: readonly BreakerState[],
  now: number,
  p: BreakerPolicy,
): (BreakerState | undefined)[] | undefined {
  if (states.every((s) => s.state === 'closed')) return undefined;
  if (!states.every((s) => s.state === 'closed' || probeDue(s, now))) return undefined;
  return states.map((s) => (s.state === 'closed' ? undefined : startProbe(s, now, p)));
}

/** Returns the probe slot unused, so the next caller may probe at once. */
export function endProbeUnused(s: BreakerState, now: number): BreakerState {
  if (s.state !== 'half_open') return s;
  return { ...s, state: 'open', retryAt: now, probeUntil: undefined, updatedAt: now };
}

/** The public view of a breaker. */
export function viewOf(key: CircuitKey, s: BreakerState, now: number, p: BreakerPolicy): CircuitView {
  // Counted in one pass without copying: every health check of every candidate builds views.
  const from = now - p.windowMs;
  let recentFailures = 0;
  let recentSuccesses = 0;
  for (const [t, ok] of s.outcomes) {
    if (t < from) continue;
    if (ok) recentSuccesses++;
    else recentFailures++;
  }
  const v: CircuitView = {
    key,
    state: s.state,
    consecutiveFailures: s.consecutiveFailures,
    recentFailures,
    recentSuccesses,
    updatedAt: s.updatedAt,
  };
  if (s.reason) v.reason = s.reason;
  if (s.lastError) v.lastError = s.lastError;
  if (s.openedAt !== undefined && s.state !== 'closed') v.openedAt = s.openedAt;
  if (s.retryAt !== undefined && s.state !== 'closed') v.retryAt = s.retryAt;
  if (s.cooldownMs !== undefined && s.state !== 'closed') v.cooldownMs = s.cooldownMs;
  if (s.leftAloneUntil !== undefined && s.state !== 'closed') v.leftAloneUntil = s.leftAloneUntil;
  if (s.latencyMs !== undefined) v.latencyMs = s.latencyMs;
  return v;
}

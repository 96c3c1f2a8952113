/**
 * Health memory (SPEC §2.5): circuit breakers per provider and per model. The engine uses only this
 * interface; an in-process implementation ships here and a shared (Redis) one can replace it.
 * Every method is async so a networked store fits, and must answer promptly: a shared store
 * falls back to local memory rather than keep a member waiting.
 */
import type { FailureDetails, FallbackReason } from '../errors.js';

/** Which breaker: a whole provider, or one model. */
export type CircuitScope = 'provider' | 'model';

/** Identifies one breaker. Ids are unique across the deployment (providers and models of every org). */
export interface CircuitKey {
  scope: CircuitScope;
  id: string;
}

/** The provider and model of one upstream target. */
export interface TargetRef {
  providerId: string;
  modelId: string;
}

/** The public state of one breaker. */
export interface CircuitView {
  key: CircuitKey;
  state: 'closed' | 'open' | 'half_open';
  /** Why it opened (the last availability failure). */
  reason?: FallbackReason;
  /** The last failure's message (secrets already removed). */
  lastError?: string;
  openedAt?: number;
  /** When the next probe may go (open circuits). */
  retryAt?: number;
  /** Current cooldown; doubles while probes fail. */
  cooldownMs?: number;
  /** Until when the provider asked to be left alone (a long Retry-After). */
  leftAloneUntil?: number;
  consecutiveFailures: number;
  /** Outcomes inside the sliding window. */
  recentFailures: number;
  recentSuccesses: number;
  /** Smoothed time to first token of recent successes. */
  latencyMs?: number;
  updatedAt: number;
}

/** What the engine needs to decide about one target right now. */
export interface TargetHealth {
  provider: CircuitView;
  model: CircuitView;
  /** Both breakers closed. */
  available: boolean;
  /** Not available, but every open breaker's cooldown has passed and no probe is running. */
  probeDue: boolean;
}

/** The health memory the engine consults and informs. */
export interface HealthMemory {
  /** The target's breakers as known now. */
  check(target: TargetRef): Promise<TargetHealth>;
  /**
   * The same answer as `check`, without waiting, for stores that keep a local view (in-process
   * memory; Redis through its mirror). The engine uses it when present: on a busy server the await
   * of an async check costs several times the check itself, on every answer.
   */
  checkNow?(target: TargetRef): TargetHealth;
  /** Claims the single probe of the target's open breakers; false when another caller holds it. */
  tryAcquireProbe(target: TargetRef): Promise<boolean>;
  /** Gives the probe back without a verdict (the member cancelled). */
  releaseProbe(target: TargetRef): Promise<void>;
  /** The target answered: closes its breakers and records its latency. */
  recordSuccess(target: TargetRef, latencyMs: number): Promise<void>;
  /** The target failed with an availability failure; may open breakers. */
  recordFailure(target: TargetRef, failure: FailureDetails): Promise<void>;
  /** Forgets a breaker (e.g. after an admin rotates a key or edits a provider). */
  reset(key: CircuitKey): Promise<void>;
  /** Every breaker known. */
  snapshot(): Promise<CircuitView[]>;
}

/**
 * @understudy/engine: Model Fallback as a pure library. No I/O of its own: providers, health
 * memory and the clock come in through the interfaces exported here.
 */
export type * from './types/chat.js';
export type * from './types/catalog.js';
export type * from './types/provider.js';
export type * from './types/result.js';
export type * from './health/types.js';
export {
  ProviderError,
  isFallbackReason,
  type FailureDetails,
  type FailureReason,
  type FallbackReason,
  type FinalReason,
  type TimeoutKind,
} from './errors.js';
export {
  classifyUpstream,
  classifyNetworkError,
  timeoutError,
  parseRetryAfter,
  reasonFor,
} from './classify.js';
export type { UpstreamFailure } from './classify.js';
export { redact } from './redact.js';
export { systemClock, type Clock, type Timer } from './clock.js';
export { Cancellation, type CancelSignal } from './cancel.js';
export { createEngine, type Engine, type EngineDeps } from './executor/engine.js';
export { type AnswerInput } from './executor/answer.js';
export { CONTINUE_INSTRUCTION, jsonInstruction } from './executor/rules.js';
export { DEFAULT_ENGINE_OPTIONS, timeoutsFor, type EngineOptions } from './executor/options.js';
export type { AttemptTimeouts } from './executor/attempt.js';
export { REASON_WORDS, describeFailure } from './executor/words.js';
export { chooseBackup, chooseAutomatic, type BackupChoice, type BackupQuery } from './policy/backup.js';
export { fitHistory, historyBudget, type FittedHistory } from './policy/history.js';
export { InMemoryHealth, keysOf, keyString } from './health/memory.js';
export { perTarget } from './health/per-target.js';
export {
  DEFAULT_BREAKER_POLICY,
  freshBreaker,
  onFailure,
  onSuccess,
  probeDue,
  startProbe,
  claimProbe,
  endProbeUnused,
  scopesFor,
  viewOf,
  type BreakerPolicy,
  type BreakerState,
} from './health/circuit.js';
export { estimateRequestTokens, estimateTextTokens, usesImages, usesTools } from './tokens.js';

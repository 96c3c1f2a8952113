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
export { systemClock, type Clock } from './clock.js';

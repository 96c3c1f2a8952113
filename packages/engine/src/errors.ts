/** Typed failures: every failure carries a `reason` the fallback table switches on. */

/** Reasons for which the primary is unavailable and a backup is asked (SPEC §2.1). */
export type FallbackReason =
  | 'unreachable'
  | 'timeout'
  | 'rate_limited'
  | 'overloaded'
  | 'provider_error'
  | 'provider_misconfigured'
  | 'interrupted'
  | 'context_too_long';

/** Reasons that never fall back: the request itself is wrong, refused, or was cancelled. */
export type FinalReason = 'bad_request' | 'content_filtered' | 'cancelled';

/** Every failure reason. */
export type FailureReason = FallbackReason | FinalReason;

/** Which timeout fired, for `timeout` failures. */
export type TimeoutKind = 'connect' | 'first_token' | 'stall';

/** Facts about one failed upstream call. */
export interface FailureDetails {
  reason: FailureReason;
  /** Provider's message with secrets removed. */
  message: string;
  status?: number;
  /** Provider's error type or code (e.g. `overloaded_error`, `context_length_exceeded`). */
  code?: string;
  /** Parsed `Retry-After` in milliseconds. */
  retryAfterMs?: number;
  timeout?: TimeoutKind;
  /** Connection reset before any response byte: the one network blip eligible for a quick retry. */
  beforeResponse?: boolean;
  /** The failure arrived as an error event inside an open stream. */
  inStream?: boolean;
}

/** A failed upstream call, thrown by provider adapters and by the executor's timeouts. */
export class ProviderError extends Error implements FailureDetails {
  readonly reason: FailureReason;
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterMs?: number;
  readonly timeout?: TimeoutKind;
  readonly beforeResponse?: boolean;
  readonly inStream?: boolean;

  constructor(details: FailureDetails) {
    super(details.message);
    this.name = 'ProviderError';
    this.reason = details.reason;
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
    this.timeout = details.timeout;
    this.beforeResponse = details.beforeResponse;
    this.inStream = details.inStream;
  }

  /** Plain, serialisable details (no stack, no secrets). */
  toDetails(): FailureDetails {
    const d: FailureDetails = { reason: this.reason, message: this.message };
    if (this.status !== undefined) d.status = this.status;
    if (this.code !== undefined) d.code = this.code;
    if (this.retryAfterMs !== undefined) d.retryAfterMs = this.retryAfterMs;
    if (this.timeout !== undefined) d.timeout = this.timeout;
    if (this.beforeResponse) d.beforeResponse = true;
    if (this.inStream) d.inStream = true;
    return d;
  }
}

/** True when the reason means "primary unavailable" (falls back), false for final reasons. */
export function isFallbackReason(reason: FailureReason): reason is FallbackReason {
  return reason !== 'bad_request' && reason !== 'content_filtered' && reason !== 'cancelled';
}

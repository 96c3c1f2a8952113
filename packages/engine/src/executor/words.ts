/** Plain-language wording of failures, for error messages and tooltips. */
import type { FailureDetails, FailureReason } from '../errors.js';

/** What happened, as words that follow a model's or provider's name. */
export const REASON_WORDS: Record<FailureReason, string> = {
  unreachable: 'could not be reached',
  timeout: 'did not answer in time',
  rate_limited: 'was rate-limited',
  overloaded: 'was overloaded',
  provider_error: 'had a server error',
  provider_misconfigured: 'refused the request (check its API key, billing or model name)',
  interrupted: 'stopped in the middle of the answer',
  context_too_long: 'could not fit the conversation in its context window',
  bad_request: 'rejected the request as invalid',
  content_filtered: 'declined to answer for content-policy reasons',
  cancelled: 'was cancelled',
};

/** "GPT-4o (OpenAI) was overloaded: HTTP 529: Overloaded". */
export function describeFailure(model: string, provider: string, f: FailureDetails): string {
  return `${model} (${provider}) ${REASON_WORDS[f.reason]}: ${f.message}`;
}

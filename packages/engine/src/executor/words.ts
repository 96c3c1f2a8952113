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

/**
 * "GPT-4o on OpenAI was overloaded: HTTP 529: Overloaded". "On", not brackets: labels often carry
 * brackets of their own ("Sim A Large (simulated) on Simulator A (OpenAI protocol)"), as in the
 * web app's copy of this wording (packages/web/src/chat/failureText.ts).
 */
export function describeFailure(model: string, provider: string, f: FailureDetails): string {
  const words = `${model} on ${provider} ${REASON_WORDS[f.reason]}`;
  return f.message.trim() === '' ? words : `${words}: ${f.message}`;
}

/**
 * Joins the standard error's parts as sentences, each ending with one period. A provider's own
 * message may end with a period (or several) already: one, not two, and none missing.
 */
export function asSentences(parts: readonly string[]): string {
  // A provider's own sentence may end in "?" or "!": that is its end, no period after it.
  return parts
    .map((x) => x.replace(/[.\s]+$/, ''))
    .map((x) => (/[?!]$/.test(x) ? x : `${x}.`))
    .join(' ');
}

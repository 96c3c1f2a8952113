/**
 * Failure reasons in plain words, for the amber icon's tooltip and error messages. The web app's
 * own copy of the engine's wording: the browser depends on the HTTP API only.
 */
const REASON_WORDS: Record<string, string> = {
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

/** "was overloaded", or a readable fallback for a reason this version does not know. */
export function reasonWords(reason: string): string {
  return REASON_WORDS[reason] ?? `failed (${reason.replace(/_/g, ' ')})`;
}

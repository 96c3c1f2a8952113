import { ApiError } from '../api/client.js';
import { asSentence } from '../ui/sentence.js';

/**
 * A refused sign-in, invitation or setup as its form shows it: always a sentence. Too many failed
 * attempts (429) says the wait in minutes, from the server's Retry-After; anything else is the
 * server's own message (lower case, no full stop: it is also read inside logs and API bodies) made
 * a sentence, so two refusals of the same form do not read in two styles.
 */
export function authRefusal(err: unknown): string {
  if (err instanceof ApiError && err.status === 429) {
    // Without a Retry-After (a proxy's own 429), a minute is the least the server would ask.
    const minutes = Math.max(1, Math.ceil((err.retryAfterSeconds ?? 60) / 60));
    return `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  }
  return asSentence(err instanceof Error ? err.message : String(err));
}

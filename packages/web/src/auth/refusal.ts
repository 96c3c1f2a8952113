import { ApiError } from '../api/client.js';

/**
 * A refused sign-in, invitation or setup as its form shows it. Too many failed attempts (429) is
 * said as a sentence with the wait in minutes, from the server's Retry-After; anything else is
 * the server's own message.
 */
export function authRefusal(err: unknown): string {
  if (err instanceof ApiError && err.status === 429) {
    // Without a Retry-After (a proxy's own 429), a minute is the least the server would ask.
    const minutes = Math.max(1, Math.ceil((err.retryAfterSeconds ?? 60) / 60));
    return `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  }
  return err instanceof Error ? err.message : String(err);
}

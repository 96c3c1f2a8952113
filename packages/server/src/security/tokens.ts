/** Random tokens and their stored digests (sessions, invitations, API keys). */
import { createHash, randomBytes } from 'node:crypto';

/** A random URL-safe token with an optional readable prefix. */
export function randomToken(prefix = '', bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

/** SHA-256 hex of a high-entropy token; enough for random tokens (no password stretching needed). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

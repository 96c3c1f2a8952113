/** Time-ordered random ids: sortable by creation, unguessable, portable as text keys. */
import { randomBytes } from 'node:crypto';

let last = 0;
let counter = 0;

/** A new id: 11 base36 chars of milliseconds, a 4-char in-millisecond counter, 10 random chars. */
export function newId(): string {
  const now = Date.now();
  if (now === last) counter++;
  else {
    last = now;
    counter = 0;
  }
  const time = now.toString(36).padStart(11, '0');
  const seq = counter.toString(36).padStart(4, '0');
  const rand = randomBytes(8).toString('base64url').replace(/[-_]/g, 'x').slice(0, 10).toLowerCase();
  return `${time}${seq}${rand}`;
}

/** The current time as stored: ISO-8601 UTC with milliseconds. */
export function nowIso(): string {
  return new Date().toISOString();
}

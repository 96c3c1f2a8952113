/** Time-ordered random ids: sortable by creation, unguessable, portable as text keys. */
import { randomFillSync } from 'node:crypto';

let last = 0;
let counter = 0;
/** `last` in base 36, made once per millisecond: Number#toString(36) is slow in V8. */
let lastText = '';

// Random bytes are drawn from a pool refilled 4 KiB at a time: one getrandom call per ~400 ids
// instead of one per id, which made id generation a visible share of a /v1 request's CPU.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** `n` random base36 characters from the pool (a byte's low bits; 256 % 36 bias is immaterial here). */
function randomChars(n: number): string {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHABET[(pool[poolAt++] as number) % 36];
  return out;
}

/** A new id: 11 base36 chars of milliseconds, a 4-char in-millisecond counter, 10 random chars. */
export function newId(): string {
  const now = Date.now();
  if (now === last) counter++;
  else {
    last = now;
    lastText = now.toString(36).padStart(11, '0');
    counter = 0;
  }
  const seq = counter < 36 ? `000${ALPHABET[counter]}` : counter.toString(36).padStart(4, '0');
  return `${lastText}${seq}${randomChars(10)}`;
}

/** The current time as stored: ISO-8601 UTC with milliseconds. */
export function nowIso(): string {
  return new Date().toISOString();
}

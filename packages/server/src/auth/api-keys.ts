/**
 * Organization API keys on the hot path: a key's principal is remembered for a few seconds so a
 * `/v1` request does no database query. A revocation drops the organization's keys at once on this
 * instance and, through the organization change relay, on every other; keys a start's bootstrap
 * file revoked are relayed by their digests (revocations.ts). The TTL bounds what a missed relay
 * message can cost. Unknown keys are never remembered: a key created a moment ago must work,
 * and guessed keys must not fill memory.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { tokenHash } from '../security/index.js';
import { nowIso, type Database } from '../storage/index.js';

/** Who an API key speaks for. */
export interface KeyPrincipal {
  keyId: string;
  orgId: string;
}

interface Entry extends KeyPrincipal {
  expiresAt: number;
  /** When last_used_at was last written (or read as written), ms since the epoch. */
  touchedAt: number;
}

/** How often last_used_at is written per key: keeps the write load off the hot path. */
const TOUCH_EVERY_MS = 60_000;

/** Resolves API keys through a short-lived, size-bounded cache. */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  /** Lookups in flight, shared by concurrent requests with the same key (a cache miss under load). */
  private readonly pending = new Map<string, Promise<KeyPrincipal | undefined>>();
  /** Bumped by every invalidation: a lookup that straddles one must not cache what it read. */
  private epoch = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** When this cache was made, before the start's bootstrap: revocations since are the start's. */
  readonly since = nowIso();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    opts: { ttlMs?: number; maxEntries?: number } = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Keys cached now (tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /** The principal of a presented key, or undefined when it is unknown or revoked. */
  async resolve(key: string): Promise<KeyPrincipal | undefined> {
    const hash = tokenHash(key);
    const now = Date.now();
    const hit = this.entries.get(hash);
    if (hit && hit.expiresAt > now) {
      if (now - hit.touchedAt > TOUCH_EVERY_MS) {
        hit.touchedAt = now;
        this.touch(hit.keyId);
      }
      return { keyId: hit.keyId, orgId: hit.orgId };
    }
    if (hit) this.entries.delete(hash);
    let p = this.pending.get(hash);
    if (!p) {
      p = this.load(hash).finally(() => {
        if (this.pending.get(hash) === p) this.pending.delete(hash);
      });
      this.pending.set(hash, p);
    }
    return p;
  }

  /** Drops an organization's cached keys (a key was revoked, or its organization changed). */
  invalidateOrg(orgId: string): void {
    this.epoch++;
    // A lookup in flight may have read the key before the revocation: later requests must not join it.
    this.pending.clear();
    for (const [hash, e] of this.entries) if (e.orgId === orgId) this.entries.delete(hash);
  }

  /** Drops the given keys (their SHA-256 digests), revoked on another instance. */
  drop(hashes: readonly string[]): void {
    this.epoch++;
    // As in invalidateOrg: a lookup in flight may have read a key before it was revoked.
    this.pending.clear();
    for (const hash of hashes) this.entries.delete(hash);
  }

  /** Drops every cached key (e.g. after missing relay messages while Redis was down). */
  clear(): void {
    this.epoch++;
    this.pending.clear();
    this.entries.clear();
  }

  private async load(hash: string): Promise<KeyPrincipal | undefined> {
    const epoch = this.epoch;
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'org_id', 'last_used_at'])
      .where('key_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = Date.now();
    const lastUsed = row.last_used_at ? Date.parse(row.last_used_at) : 0;
    let touchedAt = lastUsed;
    if (now - lastUsed > TOUCH_EVERY_MS) {
      touchedAt = now;
      this.touch(row.id);
    }
    if (epoch === this.epoch) {
      // Insertion order is expiry order (one TTL for all), so the first entry is the one to evict.
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      this.entries.set(hash, { keyId: row.id, orgId: row.org_id, expiresAt: now + this.ttlMs, touchedAt });
    }
    return { keyId: row.id, orgId: row.org_id };
  }

  /** Records the key's use without holding up the request; a failed write only costs the timestamp. */
  private touch(keyId: string): void {
    this.db
      .updateTable('api_keys')
      .set({ last_used_at: nowIso() })
      .where('id', '=', keyId)
      .execute()
      .catch((err: unknown) => this.log.warn({ err }, 'recording API key use failed'));
  }
}

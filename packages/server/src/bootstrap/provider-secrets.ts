/**
 * Provider keys and header values at start, seen with this instance's secret. A value an older key
 * of this instance opens (UNDERSTUDY_SECRET newly set, this instance's data/secret.key, or the
 * first instance's file given as the secret) is sealed again with the current one, so every
 * instance with the same UNDERSTUDY_SECRET reads it; header values stored in clear (before they
 * were sealed) are sealed too. A value nothing opens was sealed by an
 * instance with another secret: the providers the operator declares get theirs again from the
 * file or the environment; the others are named with what to do, and start without it.
 */
import type { Kysely } from 'kysely';
import { readableHeaders, readableKey, sealHeaders, type SecretBox } from '../security/index.js';
import type { Database } from '../storage/index.js';

/** A provider whose stored key or header values this instance cannot open. */
export interface Unreadable {
  orgId: string;
  slug: string;
  what: string;
}

/**
 * Seals again with the current key what an older key opens, and seals header values stored in
 * clear; returns how many of each, and what nothing opens.
 */
export async function resealProviderSecrets(
  db: Kysely<Database>,
  box: SecretBox,
): Promise<{ resealed: number; sealedClear: number; unreadable: Unreadable[] }> {
  const rows = await db
    .selectFrom('providers')
    .select(['id', 'org_id', 'slug', 'api_key_enc', 'headers_json'])
    .orderBy('id')
    .execute();
  let resealed = 0;
  let sealedClear = 0;
  const unreadable: Unreadable[] = [];
  for (const r of rows) {
    const set: { api_key_enc?: string; headers_json?: string } = {};
    const lost: string[] = [];
    if (r.api_key_enc && !box.isCurrent(r.api_key_enc)) {
      const key = readableKey(box, r.api_key_enc);
      if (key === undefined) lost.push('key');
      else if (key !== null) {
        set.api_key_enc = box.seal(key);
        resealed += 1;
      }
    }
    // Plain JSON, from before header values were sealed: they may be credentials.
    const clear = r.headers_json?.startsWith('{') === true;
    if (r.headers_json && (clear || !box.isCurrent(r.headers_json))) {
      const headers = readableHeaders(box, r.headers_json);
      const sealed = headers ? sealHeaders(box, headers) : null;
      if (headers === undefined) lost.push('header values');
      else if (sealed !== null) {
        set.headers_json = sealed;
        if (clear) sealedClear += 1;
        else resealed += 1;
      }
    }
    if (lost.length > 0) unreadable.push({ orgId: r.org_id, slug: r.slug, what: lost.join(' and ') });
    if (Object.keys(set).length > 0)
      await db.updateTable('providers').set(set).where('id', '=', r.id).execute();
  }
  return { resealed, sealedClear, unreadable };
}

/** Of `before`, the providers whose secrets are still unreadable (those provisioning gave again are not). */
export async function stillUnreadable(
  db: Kysely<Database>,
  box: SecretBox,
  before: Unreadable[],
): Promise<Unreadable[]> {
  const out: Unreadable[] = [];
  for (const u of before) {
    const r = await db
      .selectFrom('providers')
      .select(['api_key_enc', 'headers_json'])
      .where('org_id', '=', u.orgId)
      .where('slug', '=', u.slug)
      .executeTakeFirst();
    if (!r) continue;
    const lost = [
      ...(readableKey(box, r.api_key_enc) === undefined ? ['key'] : []),
      ...(readableHeaders(box, r.headers_json) === undefined ? ['header values'] : []),
    ];
    if (lost.length > 0) out.push({ ...u, what: lost.join(' and ') });
  }
  return out;
}

/** What the log says of a provider whose secrets this instance cannot open, and what to do. */
export function unreadableMessage(u: Unreadable): string {
  return `provider ${u.slug}'s ${u.what} ${u.what === 'key' ? 'was' : 'were'} sealed with another secret: set UNDERSTUDY_SECRET to the secret the first instance used (its data/secret.key, as it is, if it had none), or enter the ${u.what === 'key' ? 'key' : u.what} again in Settings → Providers; until then it is called without ${u.what === 'key' ? 'it' : 'them'}`;
}

/**
 * The API keys of the bootstrap file. The file owns the keys it declares (source `config`): a key
 * it declared at an earlier start and no longer declares, removed or given a new value, is revoked,
 * so rotating a leaked key in the file ends the old one. A key the file revoked and declares again
 * is reinstated (the file is the operator's declaration); one an admin revoked stays revoked.
 * Keys created in the UI are never touched.
 */
import type { Kysely } from 'kysely';
import { writeAudit, type Actor } from '../audit/index.js';
import { tokenHash } from '../security/index.js';
import { newId, nowIso, type Database } from '../storage/index.js';

/** A key as the file declares it. */
export interface DeclaredKey {
  name: string;
  key: string;
}

/** What reconciling changed (for the start log and the audit entry) and what it left alone on purpose. */
export interface KeysOutcome {
  changes: string[];
  warnings: string[];
}

/** Makes an organization's file-declared keys the file's: creates the new ones, revokes the others. */
export async function reconcileApiKeys(
  db: Kysely<Database>,
  orgId: string,
  declared: DeclaredKey[],
  actor: Actor,
): Promise<KeysOutcome> {
  const changes: string[] = [];
  const warnings: string[] = [];
  const wanted = new Map(declared.map((k) => [tokenHash(k.key), k]));
  for (const [hash, k] of wanted) {
    const row = await db
      .selectFrom('api_keys')
      .select(['id', 'org_id', 'name', 'prefix', 'revoked_at', 'revoked_by', 'source'])
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    if (!row) {
      await db
        .insertInto('api_keys')
        .values({
          id: newId(),
          org_id: orgId,
          name: k.name,
          prefix: k.key.slice(0, 10),
          key_hash: hash,
          created_by: null,
          created_at: nowIso(),
          last_used_at: null,
          revoked_at: null,
          source: 'config',
        })
        .execute();
      changes.push(`API key ${k.name} created`);
    } else if (row.org_id !== orgId) {
      warnings.push(
        `API key ${k.name}: this value is already a key of another organization; it is left there`,
      );
    } else if (row.revoked_at !== null && row.revoked_by === 'config') {
      // No cache to clear: caches hold only valid keys, so the next request reads the row afresh.
      await db
        .updateTable('api_keys')
        .set({ revoked_at: null, revoked_by: null, name: k.name, source: 'config' })
        .where('id', '=', row.id)
        .execute();
      await writeAudit(db, {
        orgId,
        actor,
        action: 'api_key.reinstate',
        targetType: 'api_key',
        targetId: row.id,
        targetLabel: k.name,
        old: { name: row.name, prefix: row.prefix },
        new: { reason: 'declared again in the file' },
      });
      changes.push(`API key ${k.name} (${row.prefix}…) reinstated: the file declares it again`);
    } else if (row.revoked_at !== null) {
      // An admin revoked it (a leak, say): the file bringing it back would undo that at every start.
      warnings.push(
        `API key ${k.name} (${row.prefix}…) was revoked in the UI and stays revoked; give it a new value in the file`,
      );
    } else if (row.name !== k.name || row.source !== 'config') {
      await db
        .updateTable('api_keys')
        .set({ name: k.name, source: 'config' })
        .where('id', '=', row.id)
        .execute();
      if (row.name !== k.name) changes.push(`API key ${row.name} renamed to ${k.name}`);
    }
  }
  const owned = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'key_hash'])
    .where('org_id', '=', orgId)
    .where('source', '=', 'config')
    .where('revoked_at', 'is', null)
    .orderBy('id')
    .execute();
  for (const r of owned) {
    if (wanted.has(r.key_hash)) continue;
    const reason = declared.some((k) => k.name === r.name)
      ? 'its value changed in the file'
      : 'no longer in the file';
    await db
      .updateTable('api_keys')
      .set({ revoked_at: nowIso(), revoked_by: 'config' })
      .where('id', '=', r.id)
      .execute();
    await writeAudit(db, {
      orgId,
      actor,
      action: 'api_key.revoke',
      targetType: 'api_key',
      targetId: r.id,
      targetLabel: r.name,
      old: { name: r.name, prefix: r.prefix },
      new: { reason },
    });
    changes.push(`API key ${r.name} (${r.prefix}…) revoked: ${reason}`);
  }
  return { changes, warnings };
}
